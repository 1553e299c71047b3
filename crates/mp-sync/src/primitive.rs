//! The one import path for atomics: std's in production, loom's under
//! `cfg(loom)` so the state machines in [`raw`](crate::raw) can be
//! model-checked unchanged.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64};
pub(crate) use std::sync::atomic::Ordering;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64};

/// A busy-wait hint; under loom a yield so the model makes progress.
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// How many times a contended acquire spins before sleeping (0 under loom,
/// where spinning only multiplies the states to explore).
pub(crate) const SPINS: u32 = if cfg!(loom) { 0 } else { 64 };

/// The second half of a Dekker pair (`store A; load B` against `store B;
/// load A`, both `SeqCst`): a `SeqCst` load, which the C++ model's single
/// total order of `SeqCst` operations makes correct. Loom models `SeqCst`
/// only as acquire/release, so under loom the load is an RMW (`fetch_add(0)`),
/// which reads the latest value and gives the same guarantee there.
#[inline]
pub(crate) fn dekker_load(a: &AtomicU32) -> u32 {
    #[cfg(loom)]
    return a.fetch_add(0, Ordering::SeqCst);
    #[cfg(not(loom))]
    a.load(Ordering::SeqCst)
}
