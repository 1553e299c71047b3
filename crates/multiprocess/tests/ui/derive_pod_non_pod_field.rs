//! Compile-fail case (trybuild): `#[derive(multiprocess::Pod)]` on a struct with a field that is not `Pod` must name the field's type.
// `bool` is `Zeroable` but not `Pod` (only 0 and 1 are valid bytes), so the
// only error is the `Pod` one.
#[derive(Clone, Copy, multiprocess::Pod, multiprocess::Zeroable)]
#[repr(C)]
struct Flag {
    ok: bool,
}

fn main() {}
