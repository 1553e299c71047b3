//! Declares the `loom` cfg (set by `RUSTFLAGS="--cfg loom"` for the models).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
