//! A hostile frame nesting a recursive enum a million levels deep, received
//! with `Connection::recv` in a child process (under the start method of
//! `MULTIPROCESS_START_METHOD`): the child gets `DecodeError::TooDeep` and
//! exits normally. Without a depth limit it overflows its stack and dies of
//! a signal, which fails the test without taking the test runner with it.

use std::time::Duration;

use mp_channel::{pipe, Connection, RecvError};
use mp_process::Process;
use mp_wire::{DecodeError, Limits};
use serde::{Deserialize, Serialize};

const T: Duration = Duration::from_secs(60);

/// A recursive message type.
#[derive(Debug, Serialize, Deserialize)]
enum Nest {
    Leaf,
    Node(Box<Nest>),
}

/// Receives one `Nest` and reports what happened, then one ordinary value
/// to show the connection is still usable.
fn receive_nest(conn: Connection) {
    let report = match conn.recv::<Nest>() {
        Ok(_) => "decoded".to_string(),
        Err(RecvError::Decode(DecodeError::TooDeep { limit })) => format!("too deep: {limit}"),
        Err(e) => format!("other error: {e}"),
    };
    let after = conn.recv::<u32>().map_err(|e| e.to_string());
    conn.send(&(report, after)).unwrap();
}

#[test]
fn a_million_levels_of_nesting_is_a_typed_error_not_a_crash() {
    let (parent, child) = pipe(true).unwrap();
    let mut p = Process::new(receive_nest, (child,));
    p.start().unwrap();
    // postcard: variant 1 (`Node`) a million times, then variant 0 (`Leaf`).
    let mut hostile = vec![1u8; 1 << 20];
    hostile.push(0);
    parent.send_bytes(&hostile).unwrap();
    parent.send(&7u32).unwrap();
    p.join_timeout(T).unwrap();
    if p.exitcode().is_none() {
        let _ = p.kill();
        let _ = p.join();
        panic!("the receiver did not finish within {T:?}");
    }
    assert_eq!(
        p.exitcode(),
        Some(0),
        "the receiver died (stack overflow?) instead of refusing the frame"
    );
    let (report, after): (String, Result<u32, String>) = parent.recv_timeout(T).unwrap();
    assert_eq!(report, format!("too deep: {}", Limits::DEFAULT_MAX_DEPTH));
    assert_eq!(after, Ok(7));
}
