//! A connection end used by a forked child through the parent's own
//! handles (a closure's capture, under fork): the child has receiving and
//! sending state of its own, so a parent thread waiting in `recv` at the
//! moment of the fork (holding the end's reader lock, locked for ever in
//! the child's copy) does not stop the child, and bytes the parent had
//! taken in are not received twice.
//!
//! Closures run only under the fork start method; the tests pin it.

use std::time::Duration;

use mp_channel::pipe;
use mp_process::{Process, StartMethod};

const T: Duration = Duration::from_secs(30);

fn forked(f: impl FnOnce() + Send + 'static) -> Process {
    let mut p = Process::from_closure(f).start_method(StartMethod::Fork);
    p.start().unwrap();
    p
}

fn finish(mut p: Process) {
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
        let _ = p.join();
        panic!("the child did not end within {T:?}");
    }
    assert_eq!(p.exitcode(), Some(0));
}

#[test]
fn a_forked_child_uses_an_end_a_parent_thread_is_reading() {
    let (ours, theirs) = pipe(true).unwrap();
    let reading = ours.try_clone().unwrap();
    let reader = std::thread::spawn(move || reading.recv::<u32>());
    // Let the thread take the reader lock and sleep in `read`.
    std::thread::sleep(Duration::from_millis(100));
    let child_end = ours.try_clone().unwrap();
    let p = forked(move || {
        // Both halves of the end: a look at what is buffered (the reader
        // lock) and a send (the writer lock).
        assert!(!child_end.poll(Some(Duration::from_millis(10))).unwrap());
        child_end.send(&7u32).unwrap();
    });
    finish(p);
    assert_eq!(theirs.recv::<u32>().unwrap(), 7);
    theirs.send(&1u32).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), 1);
}

#[test]
fn a_forked_child_does_not_receive_what_its_parent_took_in() {
    let (ours, theirs) = pipe(true).unwrap();
    // One read takes in both messages; the parent has received the first,
    // the second waits in its end's buffer.
    theirs.send(&1u32).unwrap();
    theirs.send(&2u32).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(ours.recv::<u32>().unwrap(), 1);
    assert!(ours.has_buffered());
    let child_end = ours.try_clone().unwrap();
    let p = forked(move || {
        // The child's reads start at the pipe: the next message there.
        assert!(!child_end.has_buffered());
        assert_eq!(child_end.recv::<u32>().unwrap(), 3);
    });
    theirs.send(&3u32).unwrap();
    finish(p);
    assert_eq!(ours.recv::<u32>().unwrap(), 2);
}
