//! Port of SuperFastPython Lesson 05, "How to Use Producers and Consumers
//! with Queues": a producer and a consumer process on a `Queue`, with a
//! `None` sentinel; the consumer starts first.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Process, Queue};

/// generate work
fn producer(queue: Queue<Option<f64>>) {
    println!("Producer: Running");
    // generate work
    for _ in 0..10 {
        // generate a value
        let value: f64 = rand::random();
        // block
        sleep(Duration::from_secs_f64(value));
        // add to the queue
        queue.put(&Some(value)).expect("queue open");
    }
    // all done
    queue.put(&None).expect("queue open");
    println!("Producer: Done");
}

/// consume work
fn consumer(queue: Queue<Option<f64>>) {
    println!("Consumer: Running");
    // consume work
    while let Some(item) = queue.get().expect("a value or the sentinel") {
        // report
        println!(">got {item}");
    }
    // all done
    println!("Consumer: Done");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create the shared queue
    let queue = Queue::new()?;
    // start the consumer
    let mut consumer_process = Process::new(consumer, (queue.clone(),));
    consumer_process.start()?;
    // start the producer
    let mut producer_process = Process::new(producer, (queue,));
    producer_process.start()?;
    // wait for all processes to finish
    producer_process.join()?;
    consumer_process.join()?;
    Ok(())
}
