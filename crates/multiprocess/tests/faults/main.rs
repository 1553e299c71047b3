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

#[test]
fn lock_killed_holder() {
    run("lock_killed_holder", locks::lock_killed_holder);
}

#[test]
fn rlock_killed_holder() {
    run("rlock_killed_holder", locks::rlock_killed_holder);
}

#[test]
fn semaphore_killed_holder() {
    run(
        "semaphore_killed_holder",
        semaphores::semaphore_killed_holder,
    );
}

#[test]
fn bounded_semaphore_killed_holder() {
    run(
        "bounded_semaphore_killed_holder",
        semaphores::bounded_semaphore_killed_holder,
    );
}

#[test]
fn semaphore_many_dead_holders() {
    run(
        "semaphore_many_dead_holders",
        semaphores::semaphore_many_dead_holders,
    );
}

#[test]
fn condition_killed_party() {
    run("condition_killed_party", conditions::condition_killed_party);
}

#[test]
fn condition_notify_then_wait() {
    run(
        "condition_notify_then_wait",
        conditions::condition_notify_then_wait,
    );
}

#[test]
fn event_killed_party() {
    run("event_killed_party", events::event_killed_party);
}

#[test]
fn barrier_killed_party() {
    run("barrier_killed_party", barriers::barrier_killed_party);
}

#[test]
fn barrier_party_killed_in_wait() {
    run(
        "barrier_party_killed_in_wait",
        barriers::barrier_party_killed_in_wait,
    );
}

#[test]
fn value_killed_writer() {
    run("value_killed_writer", values::value_killed_writer);
}

#[test]
fn array_killed_writer() {
    run("array_killed_writer", values::array_killed_writer);
}

#[test]
fn queue_unbounded() {
    run("queue_unbounded", queues::queue_unbounded);
}

#[test]
fn queue_bounded() {
    run("queue_bounded", queues::queue_bounded);
}

#[test]
fn queue_bounded_many_kills() {
    run("queue_bounded_many_kills", queues::queue_bounded_many_kills);
}

#[test]
fn queue_unbounded_many_kills() {
    run(
        "queue_unbounded_many_kills",
        queues::queue_unbounded_many_kills,
    );
}

#[test]
fn simple_queue() {
    run("simple_queue", queues::simple_queue);
}

#[test]
fn joinable_queue() {
    run("joinable_queue", queues::joinable_queue);
}

#[test]
fn pipe_dead_peer() {
    run("pipe_dead_peer", pipe::pipe_dead_peer);
}

#[test]
fn decoder_fuzz() {
    run("decoder_fuzz", decoders::decoder_fuzz);
}

#[test]
fn decoder_deep_nesting() {
    run("decoder_deep_nesting", decoders::decoder_deep_nesting);
}

#[test]
fn pool_killed_worker() {
    run("pool_killed_worker", pool::pool_killed_worker);
}

#[test]
fn pool_task_exits() {
    run("pool_task_exits", pool::pool_task_exits);
}

#[test]
fn manager_killed_client() {
    run("manager_killed_client", manager::manager_killed_client);
}

#[test]
fn manager_killed_server() {
    run("manager_killed_server", manager::manager_killed_server);
}

#[test]
fn pool_idle_worker_killed() {
    run("pool_idle_worker_killed", pool::pool_idle_worker_killed);
}

#[test]
fn pool_chunk_worker_killed() {
    run("pool_chunk_worker_killed", pool::pool_chunk_worker_killed);
}
