//! A peer that sends a primitive whose memory it could resize gets a typed
//! decode error, never a mapping that can fault (`SIGBUS`) later: an
//! unsealed file, or a sealed memfd too short for the primitive.

use mp_sync::Lock;
use mp_wire::SharedFd;

/// What a `Lock` looks like on the wire: its slot (region fd, offset, len).
#[derive(serde::Serialize)]
struct SlotWire {
    region: SharedFd,
    offset: usize,
    len: usize,
}

fn lock_from(fd: std::os::fd::OwnedFd, len: usize) -> Result<Lock, mp_wire::DecodeError> {
    let msg = mp_wire::encode(&SlotWire {
        region: SharedFd::from(fd),
        offset: 0,
        len,
    })
    .unwrap();
    mp_wire::decode::<Lock>(msg)
}

#[test]
fn a_lock_in_unsealed_or_short_memory_is_refused() {
    // A lock's slot is 16 bytes. In a sealed memfd of that size it decodes,
    // so the refusals below are about the memory.
    let fd = mp_sys::memfd::create_sealed("lock", 16).unwrap();
    assert!(lock_from(fd, 16).is_ok());
    // An unsealed file (a /dev/shm block, which anyone may truncate).
    let name = format!("mp-sync-peer-memory-{}", std::process::id());
    let fd = mp_sys::memfd::shm_create(&name).unwrap();
    mp_sys::memfd::shm_unlink(&name).unwrap();
    mp_sys::memfd::set_size(&fd, 4096).unwrap();
    assert!(lock_from(fd, 16).is_err());
    // A sealed memfd shorter than the lock it claims to hold.
    let fd = mp_sys::memfd::create_sealed("short", 8).unwrap();
    assert!(lock_from(fd, 16).is_err());
}
