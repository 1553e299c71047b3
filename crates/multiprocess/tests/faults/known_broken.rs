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
        "semaphore_many_dead_holders",
        "issue 11 #4: slots of at most 64 dead holders are recovered",
    ),
];
