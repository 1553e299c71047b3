//! Which methods of the impl block are exposed, and the checks that make
//! each one callable through a proxy (owned arguments, a `&self` or
//! `&mut self` receiver, no generics).

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, ImplItemFn, Pat, PathArguments, ReturnType, Type,
    Visibility,
};

/// A method the proxy mirrors.
pub(crate) struct Exposed {
    /// The method's name (also its name on the wire).
    pub(crate) name: Ident,
    /// The method's visibility, reused for the proxy method.
    pub(crate) vis: Visibility,
    /// `#[doc]` and `#[cfg]` attributes, copied to the proxy method.
    pub(crate) attrs: Vec<Attribute>,
    /// The argument names, in order.
    pub(crate) arg_names: Vec<Ident>,
    /// The argument types, with `Self` replaced by the type.
    pub(crate) arg_types: Vec<TokenStream>,
    /// The return type (`()` when absent), with `Self` replaced.
    pub(crate) ret: TokenStream,
}

/// Returns the method as exposed, `None` for a method that is not (not
/// `pub`, or without a `self` receiver), or the reasons it cannot be.
pub(crate) fn analyze(f: &ImplItemFn, self_ty: &TokenStream) -> syn::Result<Option<Exposed>> {
    if matches!(f.vis, Visibility::Inherited) {
        return Ok(None);
    }
    let sig = &f.sig;
    let Some(FnArg::Receiver(recv)) = sig.inputs.first() else {
        return Ok(None); // an associated function such as `new`
    };
    let mut errors = Errors::default();
    if recv.colon_token.is_some() {
        errors.add(
            recv,
            "`#[shared]` exposes methods taking `&self` or `&mut self`; write the receiver \
             in that short form, or make the method non-`pub`",
        );
    } else if recv.reference.is_none() {
        errors.add(
            recv,
            "`#[shared]` cannot expose a method taking `self` by value: the value lives in the \
             manager server and cannot be moved out; take `&self` or `&mut self`, or make the \
             method non-`pub`",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.add(
            &sig.generics,
            "`#[shared]` cannot expose a generic method: its proxy must name concrete types; \
             make it non-`pub` or move it to a separate impl block",
        );
    }
    if let Some(a) = &sig.asyncness {
        errors.add(a, "`#[shared]` cannot expose an `async` method");
    }
    if let Some(u) = &sig.unsafety {
        errors.add(u, "`#[shared]` cannot expose an `unsafe` method");
    }
    let mut arg_names = Vec::new();
    let mut arg_types = Vec::new();
    for arg in sig.inputs.iter().skip(1) {
        let FnArg::Typed(pt) = arg else { continue };
        match &*pt.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                arg_names.push(p.ident.clone());
            }
            other => errors.add(
                other,
                "arguments of a `#[shared]` method must be plain identifiers (`name: Type`), \
                 not patterns",
            ),
        }
        check_owned(
            &pt.ty,
            "proxy methods take owned arguments: use an owned type (`String`, `Vec<T>`, ...) \
             instead of a reference",
            &mut errors,
        );
        arg_types.push(replace_self(pt.ty.to_token_stream(), self_ty));
    }
    let ret = match &sig.output {
        ReturnType::Default => quote::quote!(()),
        ReturnType::Type(_, ty) => {
            check_owned(
                ty,
                "proxy methods return owned values: return an owned type (`String`, `Vec<T>`, \
                 ...) instead of a reference",
                &mut errors,
            );
            replace_self(ty.to_token_stream(), self_ty)
        }
    };
    errors.finish()?;
    let attrs = f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc") || a.path().is_ident("cfg"))
        .cloned()
        .collect();
    Ok(Some(Exposed {
        name: sig.ident.clone(),
        vis: f.vis.clone(),
        attrs,
        arg_names,
        arg_types,
        ret,
    }))
}

/// Reports references and `impl Trait` anywhere inside `ty`.
fn check_owned(ty: &Type, message: &str, errors: &mut Errors) {
    match ty {
        Type::Reference(_) => errors.add(ty, message),
        Type::ImplTrait(_) => errors.add(
            ty,
            "`#[shared]` methods cannot use `impl Trait` in their signature: name a concrete type",
        ),
        Type::Array(a) => check_owned(&a.elem, message, errors),
        Type::Slice(s) => check_owned(&s.elem, message, errors),
        Type::Group(g) => check_owned(&g.elem, message, errors),
        Type::Paren(p) => check_owned(&p.elem, message, errors),
        Type::Tuple(t) => t.elems.iter().for_each(|e| check_owned(e, message, errors)),
        Type::Path(p) => {
            if let Some(q) = &p.qself {
                check_owned(&q.ty, message, errors);
            }
            for seg in &p.path.segments {
                if let PathArguments::AngleBracketed(ab) = &seg.arguments {
                    for arg in &ab.args {
                        if let GenericArgument::Type(t) = arg {
                            check_owned(t, message, errors);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Replaces the `Self` keyword in `tokens` by `self_ty`: in the proxy's
/// impl block `Self` would mean the proxy.
fn replace_self(tokens: TokenStream, self_ty: &TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|tt| match tt {
            TokenTree::Ident(i) if i == "Self" => self_ty.clone(),
            TokenTree::Group(g) => {
                let mut inner = Group::new(g.delimiter(), replace_self(g.stream(), self_ty));
                inner.set_span(g.span());
                TokenTree::Group(inner).into()
            }
            other => other.into(),
        })
        .collect()
}

/// Errors gathered so that one expansion reports them all.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds an error spanning `tokens`.
    pub(crate) fn add(&mut self, tokens: impl ToTokens, message: &str) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Adds an error.
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// `Err` with every error added, if any.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
