//! Cross-process reference counting, client side (Python's `incref` /
//! `decref`): every process holds its references to a server's objects on
//! one dedicated connection per server, its *holder*.
//!
//! The server counts references per connection and drops a connection's
//! references when it closes, so a process that dies — even by SIGKILL —
//! releases what it held: the kernel closes its holder. A proxy value
//! ([`Ref`]) holds one reference, shared by its clones in the process and
//! given back when the last clone is dropped. Objects are created over the
//! holder (the creator's reference is taken with the object, atomically).
//!
//! Crossing processes: serializing a proxy takes a *lease* on the sender's
//! holder (a reference named by a random number carried in the token) and
//! deserializing it *adopts* the lease onto the receiver's holder, so the
//! object survives the trip even if the sender drops its proxy at once. A
//! lease never adopted (a message never read) is given back when the
//! sender's holder closes. A proxy serialized into a value stored in the
//! server (a proxy inside a managed list) *pins* its object instead: a
//! reference owned by the server, given back only by `release` or shutdown,
//! since the server cannot see inside the bytes it stores.
//!
//! Fork-safety: holders are found in an append-only table of write-once
//! slots, one per process (by pid). A forked child never touches its
//! parent's slot (whose lock another thread may have held at the fork): it
//! makes its own, with its own connections. A proxy copied into a child by
//! `fork` itself (not through serde) holds no reference in the child, and
//! dropping it there gives nothing back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mp_channel::{Address, Connection};
use mp_process::AuthKey;
use serde::Serialize;

use crate::client;
use crate::error::{ManagerError, Result};
use crate::protocol::{self, RequestRef, CONTROL};

/// A process's holder connection to one server.
enum Holder {
    /// Not connected yet.
    Unopened,
    /// Connected.
    Open(Connection),
    /// The server went away (so dropping the proxies of a dead server does
    /// not try to reach it again, one connect per proxy).
    Gone,
}

/// A process's holder for each server (by address and key), each behind a
/// lock of its own: a call waiting on one server's reply delays no call to
/// another server.
type HolderConns = HashMap<(Address, AuthKey), Arc<Mutex<Holder>>>;

/// The holders of one process.
struct Holders {
    pid: u32,
    conns: Mutex<HolderConns>,
}

/// How many processes of one fork lineage can hold references (each uses
/// one slot, inherited by its forked children).
const SLOTS: usize = 64;

static TABLE: [OnceLock<Holders>; SLOTS] = [const { OnceLock::new() }; SLOTS];
static USED: AtomicUsize = AtomicUsize::new(0);

/// The slot of this process, made on first use; `None` when the table is full.
fn my_slot() -> Option<usize> {
    let pid = mp_sys::process::getpid();
    let find = || {
        let used = USED.load(Ordering::Acquire).min(SLOTS);
        (0..used).find(|&i| TABLE[i].get().is_some_and(|h| h.pid == pid))
    };
    if let Some(i) = find() {
        return Some(i);
    }
    // First use in this process. Slots of other pids were inherited
    // through `fork`: close our copies of their connections (as the
    // connection pool does), so the parent's references go with the parent
    // and not with this child. A slot whose lock was held at the fork is
    // left alone (its holder thread does not exist here).
    let used = USED.load(Ordering::Acquire).min(SLOTS);
    for inherited in TABLE[..used].iter().filter_map(OnceLock::get) {
        if inherited.pid != pid {
            if let Ok(mut conns) = inherited.conns.try_lock() {
                conns.clear();
            }
        }
    }
    let i = USED.fetch_add(1, Ordering::AcqRel);
    let slot = TABLE.get(i)?;
    let _ = slot.set(Holders {
        pid,
        conns: Mutex::new(HashMap::new()),
    });
    // Another thread of this process may have made one first: the lowest
    // wins, but any slot with our pid works (a `Ref` remembers its slot).
    find()
}

/// One request/reply on this process's holder for `address`, opening it
/// first if needed. A broken holder is closed (its references are gone in
/// the server as well) and the error returned. A `decref` for a server
/// already found gone does nothing; other requests try to connect again (a
/// new server may listen at the address).
fn holder_call(
    slot: usize,
    address: &Address,
    key: &AuthKey,
    method: &str,
    args: &[u8],
) -> Result<Vec<u8>> {
    let holders = TABLE[slot]
        .get()
        .ok_or_else(|| ManagerError::State("no reference holder".into()))?;
    let holder = holders
        .conns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry((address.clone(), key.clone()))
        .or_insert_with(|| Arc::new(Mutex::new(Holder::Unopened)))
        .clone();
    let mut holder = holder.lock().unwrap_or_else(|e| e.into_inner());
    // A holder hears nothing unasked: one that reads as ready was closed by
    // its server (gone, or restarted), and a new server is tried instead.
    if matches!(&*holder, Holder::Open(c) if !matches!(c.poll(Some(Duration::ZERO)), Ok(false))) {
        *holder = Holder::Gone;
    }
    match &*holder {
        Holder::Open(_) => {}
        Holder::Gone if method == protocol::DECREF => return Ok(Vec::new()),
        Holder::Gone | Holder::Unopened => match client::connect(address, key) {
            Ok(conn) => *holder = Holder::Open(conn),
            Err(e) => {
                if e.is_server_gone() {
                    *holder = Holder::Gone;
                }
                return Err(e);
            }
        },
    }
    let Holder::Open(conn) = &*holder else {
        return Err(ManagerError::State("no reference holder".into()));
    };
    let request = RequestRef {
        object: CONTROL,
        method,
        args,
    };
    let result = client::roundtrip(conn, address, &request, None);
    if result.as_ref().is_err_and(ManagerError::is_server_gone) {
        *holder = Holder::Gone;
    }
    result
}

/// A reference held by this process on one object: given back when dropped
/// (by the process that took it; a forked copy gives nothing back).
pub(crate) struct Ref {
    slot: usize,
    pid: u32,
    address: Address,
    key: AuthKey,
    id: u128,
}

impl Drop for Ref {
    fn drop(&mut self) {
        if self.pid != mp_sys::process::getpid() {
            return;
        }
        if let Ok(args) = protocol::to_bytes(&self.id) {
            // A server that is gone has dropped the reference with us.
            let _ = holder_call(self.slot, &self.address, &self.key, protocol::DECREF, &args);
        }
    }
}

impl std::fmt::Debug for Ref {
    /// Without the key: it is the server's secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ref")
            .field("address", &self.address)
            .field("id", &format_args!("{:x}", self.id))
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl Ref {
    fn held(slot: usize, address: &Address, key: &AuthKey, id: u128) -> Ref {
        Ref {
            slot,
            pid: mp_sys::process::getpid(),
            address: address.clone(),
            key: key.clone(),
            id,
        }
    }
}

/// Calls a reference-taking control `method`; the reference is held on
/// this process's holder when it succeeds.
fn take<A: Serialize>(
    address: &Address,
    key: &AuthKey,
    method: &str,
    args: &A,
) -> Result<(usize, Vec<u8>)> {
    let slot = my_slot().ok_or_else(|| {
        ManagerError::State(format!(
            "more than {SLOTS} nested processes hold manager references"
        ))
    })?;
    let args = protocol::to_bytes(args)?;
    Ok((slot, holder_call(slot, address, key, method, &args)?))
}

/// Creates an object of `typeid` from `init` with this process's reference
/// on it: its id and the reference.
pub(crate) fn create(
    address: &Address,
    key: &AuthKey,
    typeid: &str,
    init: &[u8],
) -> Result<(u128, Ref)> {
    let (slot, out) = take(
        address,
        key,
        protocol::CREATE,
        &(typeid, serde_bytes::Bytes::new(init)),
    )?;
    let id: u128 = protocol::from_bytes(&out)?;
    Ok((id, Ref::held(slot, address, key, id)))
}

/// A new reference to `id` (which must exist). With `lease`, the sender's
/// lease is adopted (or, if it is gone, a new reference taken).
pub(crate) fn incref(
    address: &Address,
    key: &AuthKey,
    id: u128,
    lease: Option<u64>,
) -> Result<Ref> {
    let (slot, _) = match lease {
        Some(lease) => take(address, key, protocol::ADOPT, &(id, lease))?,
        None => take(address, key, protocol::INCREF, &id)?,
    };
    Ok(Ref::held(slot, address, key, id))
}

/// Takes a lease on `id` for a proxy leaving this process: its number.
pub(crate) fn lease(address: &Address, key: &AuthKey, id: u128) -> Result<u64> {
    let lease = crate::random::random_u64()?;
    take(address, key, protocol::LEASE, &(id, lease))?;
    Ok(lease)
}

/// Makes the server hold a reference to `id` itself (a proxy stored in a
/// managed value).
pub(crate) fn pin(address: &Address, key: &AuthKey, id: u128) -> Result<()> {
    take(address, key, protocol::PIN, &id).map(drop)
}
