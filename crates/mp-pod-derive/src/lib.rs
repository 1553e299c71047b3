//! `mp-pod-derive`: `#[derive(multiprocess::Pod, multiprocess::Zeroable)]`
//! for a crate that depends only on `multiprocess`. Use them through the
//! facade, where they sit next to the traits of the same names (as
//! `bytemuck` puts its derives next to its traits); its docs of
//! `multiprocess::Pod` have a runnable example. They work as well in a
//! crate that depends on `bytemuck` itself:
//!
//! ```
//! #[derive(Clone, Copy, mp_pod_derive::Pod, mp_pod_derive::Zeroable)]
//! #[repr(C)]
//! struct Point {
//!     x: u32,
//!     y: u32,
//! }
//!
//! let p = Point { x: 1, y: 2 };
//! assert_eq!(bytemuck::cast::<Point, [u32; 2]>(p), [1, 2]);
//! assert_eq!(bytemuck::bytes_of(&<Point as bytemuck::Zeroable>::zeroed()), [0; 8]);
//! ```
//!
//! # Why not bytemuck's derives themselves
//!
//! `bytemuck`'s derives name the crate `::bytemuck` unless the struct
//! carries `#[bytemuck(crate = "..")]`, and a crate that depends only on
//! `multiprocess` has no `::bytemuck`. A derive cannot add that attribute
//! to the struct it derives for, but it can emit new items. So each derive
//! here emits, inside an anonymous `const _: () = { .. };`:
//!
//! 1. a *shadow* of the struct: the same field types in the same order
//!    (the user's own tokens, so they resolve in the same scope) under the
//!    same `#[repr(..)]` attributes, carrying bytemuck's own derive and
//!    `#[bytemuck(crate = "<path to bytemuck>")]`. bytemuck's checks thus
//!    run unchanged on the shadow: every field `Pod` (or `Zeroable`), a
//!    `#[repr(C)]` or `#[repr(transparent)]` representation, no padding;
//! 2. for `Pod`, a compile-time assertion that the user's struct has the
//!    shadow's size and alignment;
//! 3. the `unsafe impl` of the trait for the user's struct.
//!
//! Why that impl is sound. `Zeroable` asks that all-zero bytes be a valid
//! value: a struct is all-zero-valid when every field is, whatever its
//! layout, and the shadow's derive proves every field type `Zeroable`.
//! `Pod` asks for `Zeroable + Copy + 'static` (the compiler checks those
//! supertraits on the user's struct itself), a `repr(C)`/`repr(transparent)`
//! layout (the shadow's derive checks the very `repr` attributes the user
//! wrote), `Pod` fields (checked on the same field types) and no padding:
//! the shadow's size is the sum of its field sizes (bytemuck's assertion;
//! a `packed(1)` or `transparent` repr has no padding by definition), the
//! user's struct has the same fields and the same size (our assertion), so
//! no byte of it is left for padding. (The field types are the user's
//! tokens named a second time, as bytemuck's own derive names them again
//! in its checks: a type-position macro that expands differently each time
//! could tell them apart for either derive.)
//!
//! Generic structs, enums and unions are refused with an error that names
//! the rule (bytemuck's `Pod` derive supports no enums or unions either);
//! for those, depend on `bytemuck` and use its derives directly.
//!
//! # The path to bytemuck
//!
//! Read from the user's `Cargo.toml` (with `proc-macro-crate`):
//! `multiprocess::bytemuck` when the crate depends on the facade (under a
//! renamed dependency too), else `bytemuck` when it depends on bytemuck.
//! `#[bytemuck(crate = "path")]` on the struct, bytemuck's own spelling,
//! overrides it.
//!
//! # `#![forbid(unsafe_code)]`
//!
//! A crate that forbids unsafe code can use these derives, as it can use
//! bytemuck's: the `unsafe impl` is written by the macro (its tokens carry
//! the macro's span), and rustc does not report the `unsafe_code` lint in
//! code that an external macro wrote. What the impl relies on is checked at
//! compile time as argued above, so the user's crate states no unsafe
//! promise of its own.
#![forbid(unsafe_code)]

mod bytemuck_path;
mod expand;

use proc_macro::TokenStream;

/// Derives `Pod` for a `#[repr(C)]` or `#[repr(transparent)]` struct
/// without generics whose fields are all `Pod` and which has no padding
/// (bytemuck's rules, checked by bytemuck's derive on a copy of the
/// struct). The `mp-pod-derive` crate docs say how and why it is sound.
#[proc_macro_derive(Pod, attributes(bytemuck))]
pub fn derive_pod(input: TokenStream) -> TokenStream {
    expand::derive(expand::Derived::Pod, input)
}

/// Derives `Zeroable` for a struct without generics whose fields are all
/// `Zeroable` (bytemuck's rule, checked by bytemuck's derive on a copy of
/// the struct). The `mp-pod-derive` crate docs say how and why it is
/// sound.
#[proc_macro_derive(Zeroable, attributes(bytemuck))]
pub fn derive_zeroable(input: TokenStream) -> TokenStream {
    expand::derive(expand::Derived::Zeroable, input)
}
