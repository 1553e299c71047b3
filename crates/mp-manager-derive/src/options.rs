//! The attribute's arguments: `#[shared(crate = .., vis = .., proxy = .., typeid = ..)]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, LitStr, Path, Visibility};

/// What the attribute's arguments set; every field has a default.
#[derive(Default)]
pub(crate) struct Options {
    /// The path to `mp_manager` (found in the user's `Cargo.toml` by default,
    /// see `crate_path`).
    krate: Option<Path>,
    /// The proxy's visibility (`pub` by default).
    vis: Option<Visibility>,
    /// The proxy's name (`<Type>Proxy` by default).
    proxy: Option<Ident>,
    /// The typeid (the type's name by default).
    typeid: Option<LitStr>,
}

impl Options {
    /// Parses the attribute's arguments (possibly none).
    pub(crate) fn parse(args: proc_macro::TokenStream) -> syn::Result<Self> {
        let mut o = Options::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("crate") {
                o.krate = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("vis") {
                o.vis = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("proxy") {
                o.proxy = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("typeid") {
                o.typeid = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown `#[shared]` argument; expected `crate`, `vis`, `proxy` or `typeid`",
                ));
            }
            Ok(())
        });
        syn::parse::Parser::parse(parser, args)?;
        Ok(o)
    }

    /// The path to the `mp_manager` crate: the `crate = ..` argument, else
    /// the one the user's `Cargo.toml` gives.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(p) => quote!(#p),
            None => crate::crate_path::mp_manager(),
        }
    }

    /// The proxy's visibility.
    pub(crate) fn vis(&self) -> TokenStream {
        match &self.vis {
            Some(v) => quote!(#v),
            None => quote!(pub),
        }
    }

    /// The proxy's name for a type named `ty`.
    pub(crate) fn proxy(&self, ty: &Ident) -> Ident {
        self.proxy
            .clone()
            .unwrap_or_else(|| format_ident!("{}Proxy", ty))
    }

    /// The typeid for a type named `ty`.
    pub(crate) fn typeid(&self, ty: &Ident) -> LitStr {
        self.typeid
            .clone()
            .unwrap_or_else(|| LitStr::new(&ty.to_string(), ty.span()))
    }
}
