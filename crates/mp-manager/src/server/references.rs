//! The server's reference-counting control methods (`incref`, `decref`,
//! `lease`, `adopt`, `pin`, `debug_info`) and the freeing of objects whose
//! last reference went away; the bookkeeping itself is [`RefTable`].

use std::sync::MutexGuard;

use super::refcount::{ConnId, RefTable};
use super::{Object, Server};
use crate::error::RemoteError;
use crate::protocol::{self, args, ret};

impl Server {
    fn refs(&self) -> MutexGuard<'_, RefTable> {
        self.refs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn exists(&self, id: u128) -> bool {
        self.objects
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&id)
    }

    /// Removes `ids` from the object table; the caller drops what comes
    /// back once no lock is held (a pool's drop stops its workers).
    fn take_objects(&self, ids: impl IntoIterator<Item = u128>) -> Vec<Object> {
        let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
        ids.into_iter()
            .filter_map(|id| objects.remove(&id))
            .collect()
    }

    /// The reference-counting control method `method` called on `conn`, or
    /// `None` if `method` is not one of them.
    pub(super) fn reference_control(
        &self,
        conn: ConnId,
        method: &str,
        a: &[u8],
    ) -> Option<Result<Vec<u8>, RemoteError>> {
        let missing = |id: u128| RemoteError::protocol(format!("no object with id {id:x}"));
        let result = match method {
            protocol::INCREF => args::<u128>(a, method).and_then(|id| {
                // Checked and counted under the table's lock, so the object
                // cannot be freed in between.
                let mut refs = self.refs();
                if !self.exists(id) {
                    return Err(missing(id));
                }
                refs.incref(conn, id);
                ret(&())
            }),
            protocol::DECREF => args::<u128>(a, method).map(|id| {
                let mut refs = self.refs();
                let freed = self.take_objects(refs.decref(conn, id));
                drop(refs);
                drop(freed);
                Vec::new()
            }),
            protocol::LEASE => args::<(u128, u64)>(a, method).and_then(|(id, lease)| {
                let mut refs = self.refs();
                if !self.exists(id) {
                    return Err(missing(id));
                }
                refs.lease(conn, id, lease);
                ret(&())
            }),
            protocol::ADOPT => args::<(u128, u64)>(a, method).and_then(|(id, lease)| {
                let mut refs = self.refs();
                if refs.adopt(conn, id, lease, self.exists(id)) {
                    ret(&())
                } else {
                    Err(missing(id))
                }
            }),
            protocol::PIN => args::<u128>(a, method).and_then(|id| {
                let mut refs = self.refs();
                if !self.exists(id) {
                    return Err(missing(id));
                }
                refs.pin(id);
                ret(&())
            }),
            protocol::DEBUG_INFO => {
                let refs = self.refs();
                let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
                let mut info: Vec<(u128, String, u64)> = objects
                    .iter()
                    .map(|(&id, o)| (id, o.typeid.to_string(), refs.count(id)))
                    .collect();
                info.sort();
                ret(&info)
            }
            _ => return None,
        };
        Some(result)
    }

    /// The creator's reference to the new object `id`, held by `conn`.
    pub(super) fn created(&self, conn: ConnId, id: u128) {
        self.refs().incref(conn, id);
    }

    /// A name now stands for `id` (pinned) instead of `old`.
    pub(super) fn published(&self, id: u128, old: Option<u128>) {
        let mut refs = self.refs();
        refs.pin(id);
        let freed = self.take_objects(old.and_then(|old| refs.unpin(old)));
        drop(refs);
        drop(freed);
    }

    /// `id` was released: its references no longer count.
    pub(super) fn released(&self, id: u128) {
        self.refs().forget(id);
    }

    /// Connection `conn` closed: what it held is given back.
    pub(super) fn connection_closed(&self, conn: ConnId) {
        let mut refs = self.refs();
        let freed = self.take_objects(refs.close(conn));
        drop(refs);
        drop(freed);
    }
}
