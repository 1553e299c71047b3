//! Port of PyMOTW3's `multiprocessing_lock.py` ("Controlling Access to
//! Resources"): two processes write to the shared output stream (their
//! inherited stdout) under one `Lock`, one with the guard form (Python's
//! `with lock`), the other with `acquire()` and `release()`.

use std::io::{self, Write};

use multiprocess::{Lock, OwnerDied, Process};

fn worker_with(lock: Lock) -> io::Result<()> {
    let _guard = lock.lock().unwrap_or_else(OwnerDied::into_inner);
    io::stdout().write_all(b"Lock acquired via with\n")
}

fn worker_no_with(lock: Lock) -> Result<(), Box<dyn std::error::Error>> {
    // A blocking acquire always gets the lock; `Err(OwnerDied)` holds it too.
    let _ = lock.acquire(true, None);
    let written = io::stdout().write_all(b"Lock acquired directly\n");
    // Python's `finally:`: release whether or not the write succeeded.
    lock.release()?;
    Ok(written?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    let mut w = Process::new(worker_with, (lock.clone(),));
    let mut nw = Process::new(worker_no_with, (lock.clone(),));

    w.start()?;
    nw.start()?;

    w.join()?;
    nw.join()?;
    Ok(())
}
