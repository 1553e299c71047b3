//! Compile-fail case (trybuild): `#[derive(multiprocess::Pod)]` on a struct with padding must say so.
// `u8` then `u32` under repr(C): three bytes of padding after `tag`.
#[derive(Clone, Copy, multiprocess::Pod, multiprocess::Zeroable)]
#[repr(C)]
struct Padded {
    tag: u8,
    value: u32,
}

fn main() {}
