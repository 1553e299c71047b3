//! [`ShmError`]: what can go wrong with shared memory, as typed values.

use std::io;

/// Errors of shared-memory blocks, lists and arrays.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShmError {
    /// Python's `IndexError`: an index past the end.
    #[error("index {index} out of range for length {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The length of the sequence.
        len: usize,
    },
    /// Python's `ValueError` on assigning a sequence of another length.
    #[error("can only assign a sequence of the same size (expected {expected}, got {got})")]
    LengthMismatch {
        /// Items expected.
        expected: usize,
        /// Items given.
        got: usize,
    },
    /// A byte range outside the block.
    #[error("byte range {offset}+{len} is outside a block of {size} bytes")]
    OutOfBounds {
        /// Start of the range.
        offset: usize,
        /// Length of the range.
        len: usize,
        /// Size of the block.
        size: usize,
    },
    /// `SharedMemory::create` with size 0.
    #[error("'size' must be a positive number different from zero")]
    ZeroSize,
    /// Python's `FileExistsError`.
    #[error("shared memory {0:?} already exists")]
    AlreadyExists(String),
    /// Python's `FileNotFoundError`.
    #[error("no shared memory named {0:?}")]
    NotFound(String),
    /// The block was closed in this process.
    #[error("shared memory is closed")]
    Closed,
    /// Attaching a [`PodList`](crate::PodList) to a block that holds something else.
    #[error("{name:?} does not hold a shareable list of {item_size}-byte items")]
    NotAList {
        /// The block's name.
        name: String,
        /// `size_of` the item type asked for.
        item_size: usize,
    },
    /// Python's `ValueError` on storing a `str`/`bytes` longer than its
    /// slot of a [`ShareableList`](crate::ShareableList).
    #[error("bytes/str item exceeds available storage ({len} bytes into a slot of {capacity} at index {index})")]
    ItemTooLarge {
        /// The slot.
        index: usize,
        /// The encoded length of the item.
        len: usize,
        /// The slot's capacity in bytes.
        capacity: usize,
    },
    /// A block that does not hold a well-formed
    /// [`ShareableList`](crate::ShareableList) (Python's layout), or a
    /// slot whose format, type code or bytes make no item.
    #[error("{name:?} does not hold a valid shareable list: {why}")]
    BadList {
        /// The block's name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A [`SharedMemoryManager`](crate::SharedMemoryManager) that has shut
    /// down creates nothing more.
    #[error("the shared memory manager has shut down")]
    ManagerShutDown,
    /// Only the process that made a
    /// [`SharedMemoryManager`](crate::SharedMemoryManager) can shut it down.
    #[error("only the process that started the shared memory manager can shut it down")]
    NotManagerOwner,
    /// A [`SharedMemoryManager`](crate::SharedMemoryManager) records at most
    /// `capacity` blocks (the block asked for was not kept).
    #[error("the shared memory manager already holds {capacity} blocks")]
    ManagerFull {
        /// [`MANAGER_CAPACITY`](crate::MANAGER_CAPACITY).
        capacity: usize,
    },
    /// Python's `ValueError` from `index` when the value is absent.
    #[error("value not in this container")]
    NotInContainer,
    /// A region received from another process (or given to
    /// [`Region::from_fd`](crate::Region::from_fd)) is not sealed against
    /// shrinking and growing, so its owner could truncate it under our
    /// mapping and make our next access fault (`SIGBUS`).
    #[error(
        "refusing to map a shared region that is not sealed against resizing \
         (a memfd with F_SEAL_SHRINK | F_SEAL_GROW is required)"
    )]
    NotSealed,
    /// A region's file is empty, or larger than this address space.
    #[error("a shared region of {size} bytes cannot be mapped (empty or too large)")]
    BadSize {
        /// The file's size (`fstat`).
        size: u64,
    },
    /// Any other OS error.
    #[error(transparent)]
    Io(#[from] io::Error),
}
