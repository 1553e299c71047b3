//! Port of the 100-days tutorial, "Sharing Data with Queues": the producer
//! puts 0…9 and then `None`; the consumer prints them in FIFO order.

use multiprocess::{Process, Queue};

fn producer(queue: Queue<Option<i32>>) {
    for i in 0..10 {
        queue.put(&Some(i)).expect("queue open");
    }
    queue.put(&None).expect("queue open");
}

fn consumer(queue: Queue<Option<i32>>) {
    while let Some(item) = queue.get().expect("an item or the sentinel") {
        println!("{item}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue = Queue::new()?;
    let mut p1 = Process::new(producer, (queue.clone(),));
    let mut p2 = Process::new(consumer, (queue,));
    p1.start()?;
    p2.start()?;
    p1.join()?;
    p2.join()?;
    Ok(())
}
