//! `multiprocess` (being written).
#![forbid(unsafe_code)]
