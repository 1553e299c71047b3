//! `mp-process` (being written).
#![forbid(unsafe_code)]
