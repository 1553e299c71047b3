//! Unit tests: threads in one process with handles round-tripped through
//! `mp_wire` into a second mapping of the same memory, the settle bound of
//! waits on an asymmetric lock, and (under `cfg(loom)`) loom models of
//! every state machine in `raw/`.

#[cfg(loom)]
mod loom_models;
#[cfg(loom)]
mod loom_park;
#[cfg(not(loom))]
mod settle;
#[cfg(not(loom))]
mod threads;
