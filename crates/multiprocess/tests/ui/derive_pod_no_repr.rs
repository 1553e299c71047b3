//! Compile-fail case (trybuild): `#[derive(multiprocess::Pod)]` on a struct without `#[repr(C)]` or `#[repr(transparent)]` must ask for one.
#[derive(Clone, Copy, multiprocess::Pod, multiprocess::Zeroable)]
struct Loose {
    a: u32,
    b: u32,
}

fn main() {}
