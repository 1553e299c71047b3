//! `cargo xtask`: project automation (being written).
fn main() {}
