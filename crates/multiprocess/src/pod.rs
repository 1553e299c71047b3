//! `Pod` and `Zeroable`: bytemuck's traits (type namespace) with the derives
//! of `mp-pod-derive` (macro namespace). `bytemuck::Pod` also names
//! bytemuck's own derive, which expands to `::bytemuck::..`, a path a crate
//! that depends only on this one does not have; and a `use` cannot pick one
//! namespace. So the traits come in here by a glob and the derives by name
//! (a named import shadows a glob one in its namespace), and the crate root
//! re-exports each name once, both namespaces resolved.

mod traits {
    pub use mp_shm::{Pod, Zeroable};
}

pub use traits::*;

/// Derives [`Pod`](trait@Pod) with bytemuck's checks (`#[repr(C)]` or
/// `#[repr(transparent)]`, every field `Pod`, no padding), from a crate
/// that depends only on `multiprocess`, no attribute needed; derive
/// [`Zeroable`](trait@Zeroable) beside it:
///
/// ```
/// #[derive(Clone, Copy, multiprocess::Pod, multiprocess::Zeroable)]
/// #[repr(C)]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
///
/// let points = multiprocess::RawArray::from_slice(&[Point { x: 1.0, y: 2.0 }])?;
/// assert_eq!(points.get(0)?.y, 2.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// It takes structs without generics. It runs bytemuck's own derive on
/// a copy of the struct (the `mp-pod-derive` crate docs argue why the
/// impl it then writes is sound), so its errors are bytemuck's.
pub use mp_pod_derive::Pod;

/// Derives [`Zeroable`](trait@Zeroable) (every field `Zeroable`) for a
/// struct without generics, from a crate that depends only on
/// `multiprocess`; see [`Pod`](macro@Pod).
pub use mp_pod_derive::Zeroable;
