//! Where `bytemuck` is, seen from the crate being compiled: the
//! `#[bytemuck(crate = "..")]` attribute when the struct has one, else the
//! path the user's `Cargo.toml` gives (read with `proc-macro-crate`, which
//! follows renamed and workspace dependencies).

use proc_macro2::{Span, TokenStream};
use proc_macro_crate::{crate_name, FoundCrate};
use quote::{quote, ToTokens};
use syn::{Attribute, Ident, LitStr, Path};

/// The path to the `bytemuck` crate for a struct with attributes `attrs`.
pub(crate) fn bytemuck_path(attrs: &[Attribute]) -> syn::Result<TokenStream> {
    if let Some(path) = from_attribute(attrs)? {
        return Ok(path.into_token_stream());
    }
    // `Itself` (this package's own doctests) is seen by the package's name.
    if let Ok(found) = crate_name("multiprocess") {
        let facade = extern_name(found, "multiprocess");
        return Ok(quote!(::#facade::bytemuck));
    }
    if let Ok(found) = crate_name("bytemuck") {
        let name = extern_name(found, "bytemuck");
        return Ok(quote!(::#name));
    }
    Ok(quote!(::multiprocess::bytemuck))
}

/// The path in `#[bytemuck(crate = "path")]`, if the struct has one.
fn from_attribute(attrs: &[Attribute]) -> syn::Result<Option<Path>> {
    let mut path = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("bytemuck")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                path = Some(lit.parse::<Path>()?);
                Ok(())
            } else {
                Err(meta.error(
                    "the only `#[bytemuck(..)]` argument of `multiprocess`'s derives is \
                     `crate = \"path\"`",
                ))
            }
        })?;
    }
    Ok(path)
}

/// The identifier a crate found in `Cargo.toml` is known by.
fn extern_name(found: FoundCrate, own: &str) -> Ident {
    let name = match found {
        FoundCrate::Itself => own.to_owned(),
        FoundCrate::Name(name) => name,
    };
    Ident::new(&name, Span::call_site())
}
