//! Contexts: Python's `get_context(method)`, an object that makes processes
//! of one start method (named `ForkProcess-N`, `SpawnProcess-N`, ...).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Result;
use crate::method::{get_start_method, StartMethod, DEFAULT_START_METHOD};
use crate::process::Process;
use crate::target::{Run, Target};

/// A start method bound to a factory of processes (Python's context object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    method: StartMethod,
}

/// Python's `get_context(method)`: `None` gives the default context's
/// method (fixing it, as Python does); an unknown name is an error.
pub fn get_context(method: Option<&str>) -> Result<Context> {
    let method = match method {
        Some(name) => name.parse()?,
        None => get_start_method(false).unwrap_or(DEFAULT_START_METHOD),
    };
    Ok(Context { method })
}

impl Context {
    /// A context for `method`.
    pub fn new(method: StartMethod) -> Context {
        Context { method }
    }

    /// The context's start method.
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    /// Python's `ctx.get_start_method()`.
    pub fn get_start_method(&self) -> &'static str {
        self.method.name()
    }

    /// Python's `ctx.Process(target=..., args=...)`, named `ForkProcess-N`
    /// (or `SpawnProcess-N`, `ForkServerProcess-N`).
    pub fn process<T, Args>(&self, target: T, args: Args) -> Process
    where
        T: Target<Args>,
        Args: Serialize + DeserializeOwned + Send + 'static,
    {
        Process::in_context(Some(self.method), target, args)
    }

    /// A [`Run`] process started with this context's method.
    pub fn process_from_run<R: Run>(&self, value: R) -> Process {
        Process::from_run(value).start_method(self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() {}

    #[test]
    fn context_names_processes() {
        let ctx = get_context(Some("spawn")).unwrap();
        assert_eq!(ctx.get_start_method(), "spawn");
        let p = ctx.process(noop, ());
        assert!(
            p.get_name().starts_with("SpawnProcess-"),
            "{}",
            p.get_name()
        );
        assert!(get_context(Some("bogus")).is_err());
    }
}
