//! `mp-shm`: shared memory for `multiprocess`—anonymous memfd regions, a
//! small-object arena, Python's `RawValue`/`RawArray`, `SharedMemory` and
//! `ShareableList`.
//!
//! ```
//! use mp_shm::{RawArray, RawValue, SharedMemory};
//!
//! let counter = RawValue::new(0u64)?;          // lives in a shared arena slot
//! let samples = RawArray::<f32>::new(1024)?;   // zero-filled
//! counter.set(counter.get() + 1);
//! samples.set(0, 0.5)?;
//!
//! let block = SharedMemory::create(4096)?;     // named, under /dev/shm
//! block.write(0, b"shared")?;
//! // Every handle is serde: `mp_wire::encode` carries its memfd out of band,
//! // and decoding in another process maps the same memory.
//! let msg = mp_wire::encode(&(counter, samples))?;
//! let (c, _s): (RawValue<u64>, RawArray<f32>) = mp_wire::decode(msg)?;
//! assert_eq!(c.get(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`Region`]: one mapped memfd; serializes as its fd, and deserializing
//!   reuses an existing mapping of the same file ([`with_fresh_mappings`]
//!   turns that off for tests).
//! - [`alloc`] / [`Slot`]: the arena; thousands of slots share a few memfds.
//! - [`RawValue`] / [`RawArray`]: unlocked shared `T: bytemuck::Pod`.
//! - [`SharedMemory`], [`cleanup_stale`]: named blocks and their clean-up;
//!   [`resource_tracker`]: the process that unlinks the names of creators
//!   killed by a signal.
//! - [`ShareableList`]: Python's fixed-length list of mixed [`Item`]s, in
//!   CPython's layout (a Python process can attach to it);
//!   [`PodList`]: a fixed-length list of one `Pod` item type.
//! - [`SharedMemoryManager`]: blocks that live until a manager shuts down.
//! - [`ProcessIdent`]: `(pid, start time)`, the owner identity `mp-sync`
//!   uses to detect dead lock holders despite pid reuse.
//!
//! # Aliasing model
//! Shared bytes are never exposed as `&[u8]`/`&mut [u8]`: another process
//! may write them at any time. Values are copied in and out, words are
//! reached as `&AtomicU32`/`&AtomicU64`, and the raw pointer
//! ([`mp_sys::mmap::Mapping::as_ptr`]) is the `unsafe` escape hatch. See
//! [`mp_sys::mmap`].
//!
//! # Unsafe
//! None: this crate forbids `unsafe_code`; the mapping itself lives in
//! `mp_sys::mmap`.
#![forbid(unsafe_code)]

mod arena;
mod at_exit;
mod error;
mod fork_safety;
mod ident;
mod manager;
mod pod_list;
mod raw;
mod region;
pub mod resource_tracker;
mod shareable_list;
mod shared_memory;

pub use arena::{alloc, Slot, CHUNK_SIZE, LARGE_OBJECT, MAX_ALIGN};
pub use bytemuck::{Pod, Zeroable};
pub use error::ShmError;
pub use ident::{ProcessIdent, IDENT_BITS};
pub use manager::{SharedMemoryManager, MANAGER_CAPACITY};
pub use pod_list::PodList;
pub use raw::{RawArray, RawValue};
pub use region::{with_fresh_mappings, Region};
pub use resource_tracker::resource_tracker_pid;
pub use shareable_list::{Item, ShareableList};
pub use shared_memory::{cleanup_stale, SharedMemory};
