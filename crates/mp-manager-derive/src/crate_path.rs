//! Where `mp_manager` is, seen from the crate being compiled: the path the
//! generated code names when the attribute has no `crate = ..` argument.
//!
//! A user's crate reaches `mp_manager` either through the facade
//! (`multiprocess::managers`, possibly under a renamed dependency) or
//! directly. A proc macro cannot ask the compiler which, so we read the
//! user's `Cargo.toml` with `proc-macro-crate`, the well-kept crate for
//! exactly this (it follows `package = ..` renames and workspace
//! dependencies).

use proc_macro2::{Span, TokenStream};
use proc_macro_crate::{crate_name, FoundCrate};
use quote::quote;
use syn::Ident;

/// The path to `mp_manager` for the crate being compiled: the facade's
/// `managers` module when the crate depends on `multiprocess`, else the
/// `mp-manager` dependency (under its own name or a rename), else
/// `::mp_manager`.
///
/// `FoundCrate::Itself` (the crate being compiled is that package: its
/// doctests, or its examples and tests when Cargo does not say so) maps to
/// the package's own name: neither library uses the attribute on itself,
/// and every other target of the package sees the library by that name.
pub(crate) fn mp_manager() -> TokenStream {
    if let Ok(found) = crate_name("multiprocess") {
        let facade = extern_name(found, "multiprocess");
        return quote!(::#facade::managers);
    }
    match crate_name("mp-manager") {
        Ok(found) => {
            let name = extern_name(found, "mp_manager");
            quote!(::#name)
        }
        Err(_) => quote!(::mp_manager),
    }
}

/// The identifier a crate found in `Cargo.toml` is known by.
fn extern_name(found: FoundCrate, own: &str) -> Ident {
    let name = match found {
        FoundCrate::Itself => own.to_owned(),
        FoundCrate::Name(name) => name,
    };
    Ident::new(&name, Span::call_site())
}
