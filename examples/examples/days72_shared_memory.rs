//! Port of the 100-days tutorial's "Sharing Data with Shared Memory": create
//! a named `SharedMemory` block of 1024 bytes and print its size. As in the
//! seed there is no `unlink()` call; the creating handle unlinks the name
//! when it is dropped, so nothing is left in `/dev/shm`.

use multiprocess::shared_memory::{SharedMemory, ShmError};

fn main() -> Result<(), ShmError> {
    let shm = SharedMemory::create(1024)?;
    println!("{}", shm.size());
    Ok(())
}
