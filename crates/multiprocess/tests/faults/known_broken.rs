//! Scenarios that fail today because of a bug of issue 11 that is being
//! fixed: test-all skips them (and says so); `cargo xtask stress
//! --include-known-broken` or `MULTIPROCESS_FAULT_INCLUDE_BROKEN=1` runs them.
//! Remove a line when its fix lands.

/// `(scenario, why it is skipped)`.
pub(crate) const KNOWN_BROKEN: &[(&str, &str)] = &[
    (
        "barrier_killed_party",
        "issue 11 #3: a party killed inside wait() leaves the barrier dead",
    ),
    (
        "barrier_party_killed_in_wait",
        "issue 11 #3: a party killed inside wait() leaves the barrier dead",
    ),
    (
        "condition_notify_then_wait",
        "issue 11 #5: a notifier that then waits takes its own notification",
    ),
    (
        "pool_chunk_worker_killed",
        "issue 11 #9c: a worker death fails its whole chunk, also tasks that never ran",
    ),
    (
        "pool_idle_worker_killed",
        "issue 11 #9b: a task handed to a just-killed idle worker fails though it never ran",
    ),
    (
        "queue_bounded",
        "issue 11 #1: a kill mid-put/get leaks a slot (qsize() stays 1 or 2)",
    ),
    (
        "queue_bounded_many_kills",
        "issue 11 #1: kills mid-put/get leak slots; the queue wedges",
    ),
    (
        "queue_unbounded",
        "issue 11 #1: after a kill qsize() stays high on a drained queue",
    ),
    (
        "queue_unbounded_many_kills",
        "issue 11 #1: producers hang flushing at exit; qsize() stays high",
    ),
    (
        "decoder_deep_nesting",
        "issue 11 #7: a million-level nested enum overflows the receiver's stack",
    ),
    (
        "joinable_queue",
        "issue 11 #1/#2: join() never returns after a producer kill; qsize() leaks",
    ),
    (
        "semaphore_killed_holder",
        "issue 11 #4 (same table): a killed holder's permit is sometimes never recovered (~5%)",
    ),
    (
        "bounded_semaphore_killed_holder",
        "issue 11 #4 (same table): a killed holder's permit is sometimes never recovered (~5%)",
    ),
    (
        "semaphore_many_dead_holders",
        "issue 11 #4: slots of at most 64 dead holders are recovered",
    ),
];
