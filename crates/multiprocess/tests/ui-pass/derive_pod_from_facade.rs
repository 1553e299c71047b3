//! Pass case (trybuild): `#[derive(multiprocess::Pod, multiprocess::Zeroable)]` with no attribute, from a crate that names only `multiprocess` paths and forbids unsafe code.
// Named, tuple, transparent, packed and aligned structs; the traits and the
// derives come in by one `use`, as bytemuck's do.
#![forbid(unsafe_code)]

use multiprocess::{Pod, RawArray, Zeroable};

#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, multiprocess::Pod, multiprocess::Zeroable)]
#[repr(transparent)]
struct Meters(u32);

#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, packed)]
struct Packed {
    tag: u8,
    value: u64,
}

#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(16))]
struct Aligned {
    lanes: [u32; 4],
}

fn pod<T: multiprocess::Pod>() {}

fn main() {
    pod::<Packed>();
    pod::<Aligned>();
    assert_eq!(Meters::zeroed(), Meters(0));
    let points = RawArray::from_slice(&[Point { x: 1.0, y: 2.0 }]).unwrap();
    points.set(0, Point { x: 3.0, y: 4.0 }).unwrap();
    assert_eq!(points.get(0).unwrap(), Point { x: 3.0, y: 4.0 });
    let bytes = multiprocess::bytemuck::bytes_of(&Meters(7));
    assert_eq!(bytes, 7u32.to_ne_bytes());
}
