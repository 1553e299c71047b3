//! `mp-manager-derive`: the `#[shared]` attribute of `mp-manager`, Python's
//! `BaseManager.register` for a Rust type. Use it as
//! `#[mp_manager::shared]` (re-exported there); see the `mp-manager` crate
//! docs for a runnable example.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Counter {
//!     n: i64,
//! }
//!
//! #[mp_manager::shared]
//! impl Counter {
//!     pub fn add(&mut self, by: i64) -> i64 {
//!         self.n += by;
//!         self.n
//!     }
//!     pub fn get(&self) -> i64 {
//!         self.n
//!     }
//! }
//!
//! let manager = mp_manager::Manager::builder().register::<Counter>().start()?;
//! let c: CounterProxy = manager.create(Counter { n: 0 })?;
//! assert_eq!(c.add(2)?, 2);
//! assert_eq!(c.get()?, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! On an inherent `impl T { .. }` block it keeps the block unchanged and
//! generates:
//! - `pub struct TProxy(BaseProxy)`: `Clone`, `Debug`, serde (it travels to
//!   children like every proxy) and `Proxy`;
//! - on `TProxy`, one method per exposed method of `T`, with the same name,
//!   visibility, docs and argument types, taking `&self` and returning
//!   `Result<R, ManagerError>` where `R` is the method's return type (`()`
//!   when absent);
//! - `impl Shared for T`, whose `dispatch` decodes each method's arguments,
//!   calls it, and encodes its result; other names are refused as "not
//!   exposed".
//!
//! A method is exposed when it is `pub` (any `pub(..)` counts) and takes
//! `&self` or `&mut self`; private methods and associated functions such
//! as `new` are not. An exposed method must have owned argument and return
//! types (serde), plain identifiers as arguments, and no generics; `self`
//! by value, references, patterns, `impl Trait`, `async` and generics are
//! compile errors that say so.
//!
//! Arguments, all optional: `crate = path` (where `mp_manager` is; by
//! default the macro reads the user's `Cargo.toml`: `multiprocess::managers`
//! when the crate depends on the facade `multiprocess`, else `mp_manager`,
//! renamed dependencies included), `vis = pub(crate)` (the proxy's
//! visibility, `pub` by default), `proxy = Name` (the proxy's name,
//! `TProxy` by default), `typeid = "name"` (the name the server knows the
//! type by, `"T"` by default; it must be unique among registered types).
#![forbid(unsafe_code)]

mod crate_path;
mod expand;
mod method;
mod options;

use proc_macro::TokenStream;

/// Makes the type of an inherent impl block a custom manager type: keeps
/// the block and generates its proxy (`<Type>Proxy`) and `Shared` impl.
/// See the crate docs for the rules and arguments.
#[proc_macro_attribute]
pub fn shared(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::ItemImpl);
    match options::Options::parse(args).and_then(|opts| expand::expand(&opts, &item)) {
        Ok(ts) => ts.into(),
        Err(e) => {
            // Keep the block so that the only errors are ours.
            let mut out = quote::ToTokens::into_token_stream(item);
            out.extend(e.to_compile_error());
            out.into()
        }
    }
}
