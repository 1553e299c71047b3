//! Pass case (trybuild): `#[multiprocess::managers::shared]` with no argument, from a crate that names only `multiprocess` paths.
// The macro finds `multiprocess::managers` in this crate's Cargo.toml; the
// generated proxy then works against a real manager.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Counter {
    n: i64,
}

#[multiprocess::managers::shared]
impl Counter {
    pub fn add(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }
}

fn main() -> Result<(), multiprocess::ManagerError> {
    let manager = multiprocess::Manager::builder()
        .register::<Counter>()
        .start()?;
    let c: CounterProxy = manager.create(Counter { n: 1 })?;
    assert_eq!(c.add(41)?, 42);
    Ok(())
}
