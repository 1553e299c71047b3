//! Port of SuperFastPython Lesson 05, "How to Send Data to Processes with
//! Pipes": a sender process and a receiver process on one `Pipe`; ten random
//! values, each after a random sleep, then a `None` sentinel.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{pipe, Connection, Process};

/// generate work
fn sender(connection: Connection) {
    println!("Sender: Running");
    // generate work
    for _ in 0..10 {
        // generate a value
        let value: f64 = rand::random();
        // block
        sleep(Duration::from_secs_f64(value));
        // send data
        connection.send(&Some(value)).expect("receiver alive");
    }
    // all done
    connection.send(&None::<f64>).expect("receiver alive");
    println!("Sender: Done");
}

/// consume work
fn receiver(connection: Connection) {
    println!("Receiver: Running");
    // consume work
    loop {
        // get a unit of work
        let item: Option<f64> = connection.recv().expect("a value or the sentinel");
        // report
        match item {
            Some(v) => println!(">receiver got {v}"),
            None => {
                println!(">receiver got None");
                break;
            }
        }
    }
    // all done
    println!("Receiver: Done");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create the pipe
    let (conn1, conn2) = pipe(true)?;
    // create the sender process
    let mut sender_process = Process::new(sender, (conn2,));
    sender_process.start()?;
    // create the receiver process
    let mut receiver_process = Process::new(receiver, (conn1,));
    receiver_process.start()?;
    // wait for the processes to finish
    sender_process.join()?;
    receiver_process.join()?;
    Ok(())
}
