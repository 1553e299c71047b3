//! Futex wait/wake on a shared `AtomicU32` (never `FUTEX_PRIVATE_FLAG`): filled in with mp-sync.
