//! The derives in a crate that depends on `bytemuck` itself (the path they
//! find when there is no `multiprocess`), every struct shape they take, and
//! the `#[bytemuck(crate = "..")]` override.

use bytemuck::{Pod, Zeroable};

#[derive(Clone, Copy, Debug, PartialEq, mp_pod_derive::Pod, mp_pod_derive::Zeroable)]
#[repr(C)]
struct Named {
    a: u16,
    b: u16,
    c: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, mp_pod_derive::Pod, mp_pod_derive::Zeroable)]
#[repr(transparent)]
struct Tuple(u64);

#[derive(Clone, Copy, Debug, PartialEq, mp_pod_derive::Pod, mp_pod_derive::Zeroable)]
#[repr(C)]
struct Unit;

#[derive(Clone, Copy, Debug, PartialEq, mp_pod_derive::Pod, mp_pod_derive::Zeroable)]
#[repr(C, packed)]
struct Packed {
    tag: u8,
    value: u32,
}

/// Only `Zeroable`: a `bool` field is all-zero-valid but not `Pod`.
#[derive(Debug, PartialEq, mp_pod_derive::Zeroable)]
struct Flags {
    on: bool,
    count: Option<core::num::NonZeroU32>,
}

mod elsewhere {
    /// bytemuck under another path, given by the override.
    pub(crate) use bytemuck as renamed;
}

#[derive(Clone, Copy, Debug, PartialEq, mp_pod_derive::Pod, mp_pod_derive::Zeroable)]
#[bytemuck(crate = "crate::elsewhere::renamed")]
#[repr(C)]
struct Overridden {
    x: f32,
}

fn is_pod<T: Pod>() {}

#[test]
fn derived_types_are_pod_with_their_own_layout() {
    is_pod::<Named>();
    is_pod::<Tuple>();
    is_pod::<Unit>();
    is_pod::<Packed>();
    is_pod::<Overridden>();
    let n = Named { a: 1, b: 2, c: 3 };
    let back: Named = bytemuck::pod_read_unaligned(bytemuck::bytes_of(&n));
    assert_eq!(back, n);
    assert_eq!(bytemuck::cast::<Tuple, u64>(Tuple(7)), 7);
    assert_eq!(core::mem::size_of::<Packed>(), 5);
    let p: Packed = bytemuck::pod_read_unaligned(&[9, 1, 0, 0, 0]);
    assert_eq!({ p.tag }, 9);
    assert_eq!({ p.value }, u32::from_ne_bytes([1, 0, 0, 0]));
}

#[test]
fn zeroed_is_all_zero() {
    assert_eq!(Named::zeroed(), Named { a: 0, b: 0, c: 0 });
    assert_eq!(
        Flags::zeroed(),
        Flags {
            on: false,
            count: None
        }
    );
    assert_eq!(Overridden::zeroed(), Overridden { x: 0.0 });
}
