//! [`Event`]: Python's `multiprocessing.Event`, one futex word in shared
//! memory (see `raw/event.rs`).

use std::fmt;
use std::io;
use std::time::Duration;

use mp_shm::Slot;
use mp_sys::time::Deadline;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::park::Futex;
use crate::raw::event::RawEvent;
use crate::shared::{self, word};

#[cfg(feature = "async")]
#[path = "event_async.rs"]
mod async_forms;

/// Bytes of shared memory per event: `flag: u32`, pad, an eventcount.
const SIZE: usize = 8 + shared::EVENTCOUNT;

/// A process-shared flag to wait on.
///
/// ```
/// use std::time::Duration;
/// let ev = mp_sync::Event::new()?;
/// assert!(!ev.wait(Some(Duration::from_millis(1))));
/// ev.set();
/// assert!(ev.is_set() && ev.wait(None));
/// ev.clear();
/// assert!(!ev.is_set());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Event {
    slot: Slot,
}

impl Event {
    /// A new, unset event.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn new() -> io::Result<Event> {
        Ok(Event {
            slot: shared::alloc(SIZE)?,
        })
    }

    pub(crate) fn raw(&self) -> RawEvent<'_> {
        RawEvent {
            flag: word!(self.slot, u32, 0),
            wake: shared::eventcount_at(&self.slot, 8),
        }
    }

    /// Python's `is_set()`.
    pub fn is_set(&self) -> bool {
        self.raw().is_set()
    }

    /// Python's `set()`: sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.raw().set::<Futex>();
    }

    /// Python's `clear()`.
    pub fn clear(&self) {
        self.raw().clear();
    }

    /// Python's `wait(timeout=None)`: `true` once the flag is set (or was
    /// set while waiting), `false` on timeout.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        self.raw().wait::<Futex>(Deadline::after(timeout))
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Event {}>", if self.is_set() { "set" } else { "unset" })
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.slot.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Event {
            slot: shared::slot_of(d, SIZE, "Event")?,
        })
    }
}
