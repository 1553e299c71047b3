//! SharedMemoryManager: blocks outlive their handles and creators until the
//! shutdown, handles cross processes (fork, spawn, forkserver), the owner's
//! exit or kill unlinks what it created.

use std::path::Path;
use std::time::{Duration, Instant};

use mp_process::{Process, StartMethod};
use mp_shm::{Item, SharedMemory, SharedMemoryManager, ShmError};

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];

fn exists(name: &str) -> bool {
    Path::new(mp_sys::memfd::SHM_DIR).join(name).exists()
}

fn run(mut p: Process) {
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

#[test]
fn blocks_live_until_the_shutdown() {
    let smm = SharedMemoryManager::new().unwrap();
    let block = smm.shared_memory(64).unwrap();
    block.write(0, b"kept").unwrap();
    let list = smm.shareable_list([Item::from("a"), 1.into()]).unwrap();
    let names = smm.segments();
    assert_eq!(names, [block.name(), list.shm().name()]);
    assert!(!block.is_owner());
    drop(list);
    assert!(names.iter().all(|n| exists(n)));
    smm.shutdown().unwrap();
    smm.shutdown().unwrap();
    assert!(names.iter().all(|n| !exists(n)));
    assert!(smm.segments().is_empty() && smm.is_shut_down());
    let mut buf = [0u8; 4];
    block.read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"kept");
    assert!(matches!(
        smm.shared_memory(8),
        Err(ShmError::ManagerShutDown)
    ));
}

/// Creates a managed block through a received handle and writes to it.
fn create_through(smm: SharedMemoryManager) {
    let block = smm.shared_memory(64).unwrap();
    block.write(0, b"child").unwrap();
    assert!(matches!(smm.shutdown(), Err(ShmError::NotManagerOwner)));
}

#[test]
fn a_child_creates_blocks_that_outlive_it() {
    for m in METHODS {
        let smm = SharedMemoryManager::new().unwrap();
        run(Process::new(create_through, (smm_clone(&smm),)).start_method(m));
        let names = smm.segments();
        assert_eq!(names.len(), 1, "{m:?}");
        let block = SharedMemory::attach(&names[0]).unwrap();
        let mut buf = [0u8; 5];
        block.read(0, &mut buf).unwrap();
        assert_eq!(&buf, b"child", "{m:?}");
        drop(smm); // the owner's drop shuts it down
        assert!(!exists(&names[0]), "{m:?}");
    }
}

/// A second handle to the same manager, as another process would get it.
fn smm_clone(smm: &SharedMemoryManager) -> SharedMemoryManager {
    mp_wire::decode(mp_wire::encode(smm).unwrap()).unwrap()
}

/// Makes a manager and a managed block, reports its name in `mailbox`, then
/// returns (`wait == false`) or waits to be killed.
fn own_a_manager(mailbox: SharedMemory, wait: bool) {
    let smm = SharedMemoryManager::new().unwrap();
    let block = smm.shared_memory(64).unwrap();
    mailbox.write(1, block.name().as_bytes()).unwrap();
    mailbox.write(0, &[block.name().len() as u8]).unwrap();
    if wait {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    std::mem::forget(smm); // no drop: the exit hook must do it
}

fn name_in(mailbox: &SharedMemory) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut len = [0u8];
        mailbox.read(0, &mut len).unwrap();
        if len[0] != 0 {
            let mut name = vec![0u8; usize::from(len[0])];
            mailbox.read(1, &mut name).unwrap();
            return String::from_utf8(name).unwrap();
        }
        assert!(Instant::now() < deadline, "no name reported");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_owners_exit_or_kill_unlinks_its_blocks() {
    for m in METHODS {
        let mailbox = SharedMemory::create(256).unwrap();
        let reply = SharedMemory::attach(mailbox.name()).unwrap();
        run(Process::new(own_a_manager, (reply, false)).start_method(m));
        let name = name_in(&mailbox);
        assert!(!exists(&name), "{m:?}: the exit hook left {name}");

        let mailbox = SharedMemory::create(256).unwrap();
        let reply = SharedMemory::attach(mailbox.name()).unwrap();
        let mut p = Process::new(own_a_manager, (reply, true)).start_method(m);
        p.start().unwrap();
        let name = name_in(&mailbox);
        assert!(exists(&name), "{m:?}");
        p.kill().unwrap();
        p.join().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while exists(&name) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let left = exists(&name);
        let _ = mp_sys::memfd::shm_unlink(&name);
        assert!(!left, "{m:?}: the killed owner's tracker left {name}");
    }
}
