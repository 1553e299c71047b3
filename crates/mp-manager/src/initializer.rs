//! The server's initializer (Python's `BaseManager.start(initializer,
//! initargs)`): a function and its arguments, encoded in the parent and run
//! in the server process before it starts listening.

use std::panic::{self, AssertUnwindSafe};

use mp_process::Target;
use mp_sys::entry::{EntryParts, EntryPoint};
use mp_wire::{EncodeError, Message, SharedFd};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What runs the initializer in the server: encoded arguments in, `Err(why)`
/// if they did not decode or the function panicked.
type InitEntry = EntryPoint<Message, Result<(), String>>;

/// An initializer on its way to the server.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Initializer {
    entry: (i64, u64, [u8; 20]),
    #[serde(with = "serde_bytes")]
    args: Vec<u8>,
    fds: Vec<SharedFd>,
}

impl Initializer {
    /// Encodes `f(*args)` (its return value is ignored, as in Python).
    pub(crate) fn new<F, Args>(f: F, args: &Args) -> Result<Self, EncodeError>
    where
        F: Target<Args>,
        Args: Serialize + DeserializeOwned + 'static,
    {
        let entry = InitEntry::of(move |msg: Message| -> Result<(), String> {
            let args = mp_wire::decode::<Args>(msg)
                .map_err(|e| format!("cannot decode the initargs: {e}"))?;
            panic::catch_unwind(AssertUnwindSafe(|| drop(f.call(args)))).map_err(|payload| {
                let what =
                    mp_process::panic_message(&*payload).unwrap_or_else(|| "a panic".to_string());
                format!("the initializer panicked: {what}")
            })
        });
        let msg = mp_wire::encode(args)?;
        Ok(Initializer {
            entry: entry.to_parts(),
            args: msg.bytes,
            fds: msg.fds.into_iter().map(SharedFd::from).collect(),
        })
    }

    /// Runs it (in the server process).
    pub(crate) fn run(self) -> Result<(), String> {
        let (offset, signature, binary) = self.entry;
        let run = EntryParts::<Message, Result<(), String>>::new(offset, signature, binary)
            .resolve()
            .map_err(|e| format!("cannot find the initializer: {e}"))?;
        run(Message {
            bytes: self.args,
            fds: self.fds.into_iter().map(SharedFd::into_inner).collect(),
        })
    }
}
