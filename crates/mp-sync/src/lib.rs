//! `mp-sync` (being written).
#![forbid(unsafe_code)]
