//! Our own fault-injection suite: in every primitive, SIGKILL of a random
//! participant at a random moment, and hostile input to every decoder.
//!
//! Each scenario starts a few participant processes (plain `fn` targets
//! taking the primitive and their counters) that use one primitive in a
//! loop, kills one of them at a random moment (seeded: a failure prints the
//! seed and the command that replays it), and then asserts:
//! - **never hang**: every wait has a timeout, and no wait takes longer than
//!   its timeout plus the liveness slice (with slack); a trial that does not
//!   end is aborted with its seed;
//! - **nothing lost** beyond the item in flight: what was put/acquired is
//!   counted against what was seen/released;
//! - **usable afterwards**: a fresh participant completes a full round.
//!
//! The number of trials comes from `MULTIPROCESS_FAULT_TRIALS` (3 by default,
//! the bounded form test-all runs under each start method; `cargo xtask
//! stress` runs 1,000). See `docs/faults.md`.

mod barriers;
mod conditions;
mod crew;
mod decoders;
mod events;
mod frames;
mod harness;
mod known_broken;
mod locks;
mod manager;
mod pipe;
mod pool;
mod queues;
mod semaphores;
mod values;

use harness::run;

/// One `#[test]` per scenario, named as the scenario (so `cargo test -- NAME`
/// and `cargo xtask stress --only NAME` select it).
macro_rules! scenarios {
    ($($module:ident::$name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name), $module::$name);
            }
        )*

        /// Every scenario's name.
        const SCENARIOS: &[&str] = &[$(stringify!($name)),*];
    };
}

/// A known-broken entry that names no scenario would skip nothing.
#[test]
fn known_broken_entries_name_scenarios() {
    for (name, _) in known_broken::KNOWN_BROKEN {
        assert!(
            SCENARIOS.contains(name),
            "KNOWN_BROKEN names no scenario `{name}`"
        );
    }
}

scenarios! {
    locks::lock_killed_holder,
    locks::rlock_killed_holder,
    semaphores::semaphore_killed_holder,
    semaphores::bounded_semaphore_killed_holder,
    semaphores::semaphore_many_dead_holders,
    conditions::condition_killed_party,
    conditions::condition_notify_then_wait,
    events::event_killed_party,
    barriers::barrier_killed_party,
    barriers::barrier_party_killed_in_wait,
    values::value_killed_writer,
    values::array_killed_writer,
    queues::queue_unbounded,
    queues::queue_bounded,
    queues::queue_bounded_many_kills,
    queues::queue_unbounded_many_kills,
    queues::joinable_queue_task_holder_killed,
    queues::simple_queue,
    queues::joinable_queue,
    pipe::pipe_dead_peer,
    decoders::decoder_fuzz,
    decoders::decoder_deep_nesting,
    pool::pool_killed_worker,
    pool::pool_task_exits,
    manager::manager_killed_client,
    manager::manager_killed_server,
    pool::pool_idle_worker_killed,
    pool::pool_chunk_worker_killed,
}
