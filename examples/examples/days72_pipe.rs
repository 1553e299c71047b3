//! Port of the 100-days tutorial, "Sharing Data with Pipes": a duplex
//! `Pipe`; the child doubles 10, 20 and 30 until it receives `'stop'`. The
//! parent joins it, then drains the pipe with `poll()`/`recv()`.

use std::time::Duration;

use multiprocess::{pipe, Connection, Process};
use serde::{Deserialize, Serialize};

/// Python sends ints and then the string `'stop'` on the same pipe.
#[derive(Serialize, Deserialize)]
enum Msg {
    Num(i64),
    Stop,
}

fn worker(conn: Connection) {
    while let Ok(Msg::Num(n)) = conn.recv::<Msg>() {
        conn.send(&(n * 2)).expect("parent alive");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (parent_conn, child_conn) = pipe(true)?;
    let mut p = Process::new(worker, (child_conn,));
    p.start()?;
    for msg in [10, 20, 30] {
        parent_conn.send(&Msg::Num(msg))?;
    }
    parent_conn.send(&Msg::Stop)?;
    p.join()?;
    while parent_conn.poll(Some(Duration::ZERO))? {
        match parent_conn.recv::<i64>() {
            Ok(n) => println!("{n}"),
            Err(multiprocess::RecvError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
