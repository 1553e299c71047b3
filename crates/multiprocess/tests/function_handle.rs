//! `Function` handles cross processes as data: sent through a `Queue` with
//! their arguments and called in a child under every start method, while a
//! handle whose bytes were edited is refused with `FunctionError` there and
//! here, and calls nothing.

use multiprocess::wire::{decode, encode, Message};
use multiprocess::{Function, FunctionError, Process, Queue};

fn mul(a: u64, b: u64) -> u64 {
    a * b
}

fn plus(a: u64, b: u64) -> u64 {
    a + b
}

/// One task: a function and its arguments (`mp_workers.py`'s pairs).
type Task = (Function<(u64, u64), u64>, (u64, u64));

/// What the child reports per task: the result, or how the call was refused.
type Outcome = Result<u64, String>;

fn worker(tasks: Queue<Option<Task>>, done: Queue<Outcome>) {
    while let Some((f, args)) = tasks.get().unwrap() {
        let outcome = match f.call(args) {
            Ok(r) => Ok(r),
            Err(FunctionError::Unauthenticated { .. }) => Err("unauthenticated".into()),
            Err(e) => Err(format!("other: {e}")),
        };
        done.put(&outcome).unwrap();
    }
}

/// `f` with one bit of its encoded offset flipped (the varint's low byte, so
/// the encoding stays well-formed): it names a neighbouring address.
fn tampered(f: Function<(u64, u64), u64>) -> Function<(u64, u64), u64> {
    let mut bytes = encode(&f).unwrap().bytes;
    bytes[0] ^= 0x02;
    decode(Message::from_bytes(bytes)).unwrap()
}

#[test]
fn handles_sent_through_a_queue_are_called_in_the_child() {
    let tasks = Queue::new().unwrap();
    let done = Queue::new().unwrap();
    let mut p = Process::new(worker, (tasks.clone(), done.clone()));
    p.start().unwrap();
    tasks.put(&Some((Function::new(mul), (6, 7)))).unwrap();
    tasks.put(&Some((Function::new(plus), (40, 2)))).unwrap();
    tasks
        .put(&Some((tampered(Function::new(mul)), (6, 7))))
        .unwrap();
    tasks.put(&None).unwrap();
    assert_eq!(done.get().unwrap(), Ok(42));
    assert_eq!(done.get().unwrap(), Ok(42));
    assert_eq!(done.get().unwrap(), Err("unauthenticated".to_string()));
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

#[test]
fn a_tampered_handle_is_refused_here_too() {
    let f = tampered(Function::new(mul));
    assert!(matches!(
        f.call((2, 3)),
        Err(FunctionError::Unauthenticated { .. })
    ));
    assert!(f.resolve().is_err());
    // The untouched handle still works after its round trip.
    let g: Function<(u64, u64), u64> = decode(encode(&Function::new(mul)).unwrap()).unwrap();
    assert_eq!(g.call((2, 3)), Ok(6));
}
