//! The twenty-line example of the README, compiled and run so it cannot rot
//! (keep the two identical).

use multiprocess::{current_process, Pool, Process, Queue};

fn producer(q: Queue<u64>, n: u64) {
    for i in 0..n {
        q.put(&(i * i)).unwrap();
    }
}

fn square(x: u64) -> u64 {
    x * x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let q = Queue::new()?;
    let mut p = Process::new(producer, (q.clone(), 5));
    p.start()?;
    let got: Vec<u64> = (0..5).map(|_| q.get()).collect::<Result<_, _>>()?;
    p.join()?;
    let pool = Pool::new()?;
    assert_eq!(pool.map(square, 0..5u64)?, got);
    println!("{} saw {got:?}", current_process().name());
    Ok(())
}
