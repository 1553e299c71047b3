//! The code each derive emits: a shadow of the struct carrying bytemuck's
//! own derive, the layout assertion, and the trait's impl for the user's
//! struct (the crate docs argue why that impl is sound).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Data, DeriveInput, Fields, Ident, LitStr};

use crate::bytemuck_path::bytemuck_path;

/// Which trait is derived.
#[derive(Clone, Copy)]
pub(crate) enum Derived {
    /// `bytemuck::Pod`.
    Pod,
    /// `bytemuck::Zeroable`.
    Zeroable,
}

impl Derived {
    /// The trait's name.
    fn name(self) -> &'static str {
        match self {
            Derived::Pod => "Pod",
            Derived::Zeroable => "Zeroable",
        }
    }
}

/// Expands `#[derive(multiprocess::Pod)]` or `#[derive(multiprocess::Zeroable)]`.
pub(crate) fn derive(which: Derived, input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand(which, &input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// The items emitted for `input`, or the error that names the broken rule.
fn expand(which: Derived, input: &DeriveInput) -> syn::Result<TokenStream> {
    let fields = check_shape(which, input)?;
    let bytemuck = bytemuck_path(&input.attrs)?;
    let bytemuck_lit = LitStr::new(&bytemuck.to_string(), Span::call_site());
    let name = &input.ident;
    let trait_ = Ident::new(which.name(), Span::call_site());
    let reprs = input.attrs.iter().filter(|a| a.path().is_ident("repr"));
    // Mixed-site: the shadow's name is ours and not the user's, though an
    // item name still resolves as at the call site inside the block.
    let shadow = Ident::new("__MultiprocessShadow", Span::mixed_site());
    let body = shadow_body(fields);
    let (derives, layout) = match which {
        // `Pod: Zeroable + Copy`, so the shadow needs those too; every
        // field is `Zeroable` and `Copy` when it is `Pod`.
        Derived::Pod => (
            quote!(::core::clone::Clone, ::core::marker::Copy, #bytemuck::Zeroable, #bytemuck::Pod),
            quote! {
                const _: () = ::core::assert!(
                    ::core::mem::size_of::<#name>() == ::core::mem::size_of::<#shadow>()
                        && ::core::mem::align_of::<#name>() == ::core::mem::align_of::<#shadow>(),
                    "derive(multiprocess::Pod): the struct's layout differs from its checked copy",
                );
            },
        ),
        // All-zero bytes are a valid struct when they are a valid value of
        // every field, whatever the layout: no layout check is needed.
        Derived::Zeroable => (quote!(#bytemuck::Zeroable), quote!()),
    };
    Ok(quote! {
        const _: () = {
            #[derive(#derives)]
            #[bytemuck(crate = #bytemuck_lit)]
            #(#reprs)*
            #[allow(dead_code)]
            struct #shadow #body

            #layout

            // SAFETY: bytemuck's derive checked the shadow, which has this
            // struct's field types and `repr`; with the layout assertion
            // that proves this struct meets the trait's contract (argued in
            // the docs of the `mp-pod-derive` crate).
            unsafe impl #bytemuck::#trait_ for #name {}
        };
    })
}

/// The struct's fields, or an error when the shape is one these derives
/// do not take: a generic type, an enum or a union.
fn check_shape(which: Derived, input: &DeriveInput) -> syn::Result<&Fields> {
    let derive = format!("`#[derive(multiprocess::{})]`", which.name());
    let way_out = format!(
        "for other types, depend on `bytemuck` and use `#[derive(bytemuck::{})]`",
        which.name()
    );
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            format!(
                "{derive} does not take generic types: it checks a copy of the struct, \
                 which must be one concrete type; {way_out}"
            ),
        ));
    }
    match &input.data {
        Data::Struct(s) => Ok(&s.fields),
        Data::Enum(e) => Err(syn::Error::new_spanned(
            e.enum_token,
            format!("{derive} takes structs only, not enums; {way_out}"),
        )),
        Data::Union(u) => Err(syn::Error::new_spanned(
            u.union_token,
            format!("{derive} takes structs only, not unions; {way_out}"),
        )),
    }
}

/// The shadow's body: the struct's field names and types, in order,
/// without their attributes and visibility.
fn shadow_body(fields: &Fields) -> TokenStream {
    let types = fields.iter().map(|f| &f.ty);
    match fields {
        Fields::Named(_) => {
            let names = fields.iter().map(|f| &f.ident);
            quote!({ #(#names: #types,)* })
        }
        Fields::Unnamed(_) => quote!((#(#types,)*);),
        Fields::Unit => quote!(;),
    }
}
