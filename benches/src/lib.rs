//! The side-by-side scenarios of `cargo xtask bench-compare` (DESIGN.md §5):
//! each measures one thing in this library, the same way the CPython script
//! `benches/python/scenarios.py` measures it in `multiprocessing`, and (in
//! [`raw`]) its raw limit written straight on system calls.
//!
//! ```no_run
//! let m = multiprocess_benches::scenarios::run("M5a", true).unwrap();
//! println!("{} {}", m.value, m.unit);
//! ```

pub mod placement;
pub mod raw;
pub mod scenarios;
