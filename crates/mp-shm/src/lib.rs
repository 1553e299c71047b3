//! `mp-shm` (being written).
#![deny(unsafe_code)]
