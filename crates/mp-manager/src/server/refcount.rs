//! Cross-process reference counting, server side: who holds references to
//! which object, by connection, and when an object is freed.
//!
//! A reference is held by a connection (a process's holder, see
//! `crate::refs`), by a lease (a proxy on its way to another process,
//! owned by the sender's connection until the receiver adopts it), or by
//! the server itself (a pin: a proxy stored in a managed value, or a
//! published name). When a connection closes, its references and unadopted
//! leases are given back. An object whose count falls to zero is freed.
//! Objects that were never referenced (none are, outside tests that build
//! raw requests) are freed only by `release` or shutdown.

use std::collections::HashMap;

/// Which connection holds a reference: a number given to each connection
/// when the server accepts it.
pub(crate) type ConnId = u64;

/// The reference table. Kept behind one lock in the server; every method
/// returns the objects to free, for the caller to remove from the object
/// table (so this table never needs that lock).
#[derive(Debug, Default)]
pub(crate) struct RefTable {
    /// Total references per object.
    counts: HashMap<u128, u64>,
    /// References per connection and object.
    held: HashMap<ConnId, HashMap<u128, u64>>,
    /// Leases not yet adopted: lease number → (sender, object).
    leases: HashMap<u64, (ConnId, u128)>,
}

impl RefTable {
    fn add(&mut self, conn: ConnId, id: u128) {
        *self.held.entry(conn).or_default().entry(id).or_default() += 1;
        *self.counts.entry(id).or_default() += 1;
    }

    /// Takes one of `id`'s references away; `Some(id)` if that was its last.
    fn sub(&mut self, id: u128) -> Option<u128> {
        let count = self.counts.get_mut(&id)?;
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.counts.remove(&id);
            return Some(id);
        }
        None
    }

    /// Takes one of `conn`'s references to `id` away, if it has one.
    fn sub_held(&mut self, conn: ConnId, id: u128) -> Option<u128> {
        let mine = self.held.get_mut(&conn)?;
        let n = mine.get_mut(&id)?;
        *n -= 1;
        if *n == 0 {
            mine.remove(&id);
        }
        self.sub(id)
    }

    /// `conn` takes a reference to `id` (incref, or the creator's).
    pub(crate) fn incref(&mut self, conn: ConnId, id: u128) {
        self.add(conn, id);
    }

    /// `conn` gives a reference back (decref); one it does not hold (a
    /// forked copy's, say) is ignored. Returns the object to free, if any.
    pub(crate) fn decref(&mut self, conn: ConnId, id: u128) -> Option<u128> {
        self.sub_held(conn, id)
    }

    /// `conn` lends a reference to `id` to whoever adopts `lease`.
    pub(crate) fn lease(&mut self, conn: ConnId, id: u128, lease: u64) {
        *self.counts.entry(id).or_default() += 1;
        if let Some((_, old)) = self.leases.insert(lease, (conn, id)) {
            // A reused lease number (a forged one): the older lease is gone.
            let _ = self.sub(old);
        }
    }

    /// `conn` adopts `lease` on `id`: the leased reference becomes `conn`'s.
    /// A lease that is gone (adopted already, or its sender closed) means a
    /// new reference, when `exists` says the object is still there.
    pub(crate) fn adopt(&mut self, conn: ConnId, id: u128, lease: u64, exists: bool) -> bool {
        match self.leases.get(&lease) {
            Some(&(_, leased)) if leased == id => {
                self.leases.remove(&lease);
                *self.held.entry(conn).or_default().entry(id).or_default() += 1;
                true
            }
            _ if exists => {
                self.add(conn, id);
                true
            }
            _ => false,
        }
    }

    /// The server itself takes a reference to `id` (a pin).
    pub(crate) fn pin(&mut self, id: u128) {
        *self.counts.entry(id).or_default() += 1;
    }

    /// The server gives one of its own references to `id` back (a name
    /// published again for another object). Returns the object to free.
    pub(crate) fn unpin(&mut self, id: u128) -> Option<u128> {
        self.sub(id)
    }

    /// `conn` closed: its references and unadopted leases are given back.
    /// Returns the objects to free.
    pub(crate) fn close(&mut self, conn: ConnId) -> Vec<u128> {
        let mut gone = Vec::new();
        for (id, n) in self.held.remove(&conn).unwrap_or_default() {
            for _ in 0..n {
                gone.extend(self.sub(id));
            }
        }
        let leases: Vec<u64> = self
            .leases
            .iter()
            .filter(|(_, (sender, _))| *sender == conn)
            .map(|(&lease, _)| lease)
            .collect();
        for lease in leases {
            if let Some((_, id)) = self.leases.remove(&lease) {
                gone.extend(self.sub(id));
            }
        }
        gone
    }

    /// `id` was released explicitly: forget every reference to it.
    pub(crate) fn forget(&mut self, id: u128) {
        self.counts.remove(&id);
        for mine in self.held.values_mut() {
            mine.remove(&id);
        }
        self.leases.retain(|_, (_, leased)| *leased != id);
    }

    /// The reference count of `id` (0 if none is counted).
    pub(crate) fn count(&self, id: u128) -> u64 {
        self.counts.get(&id).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_leases_and_closing_connections() {
        let mut t = RefTable::default();
        t.incref(1, 7);
        t.lease(1, 7, 99);
        assert_eq!(t.count(7), 2);
        // The sender drops its own reference: the lease keeps it.
        assert_eq!(t.decref(1, 7), None);
        // A decref from a connection that holds nothing is ignored.
        assert_eq!(t.decref(3, 7), None);
        assert!(t.adopt(2, 7, 99, true));
        // Adopting again is a plain incref.
        assert!(t.adopt(2, 7, 99, true));
        assert_eq!(t.count(7), 2);
        // The sender closing costs nothing now; the receiver closing frees.
        assert!(t.close(1).is_empty());
        assert_eq!(t.close(2), vec![7]);
        // An unadopted lease is given back with its sender.
        t.incref(1, 8);
        t.lease(1, 8, 5);
        assert_eq!(t.decref(1, 8), None);
        assert_eq!(t.close(1), vec![8]);
        assert!(!t.adopt(2, 8, 5, false));
        // Pins outlive every connection.
        t.incref(4, 9);
        t.pin(9);
        assert!(t.close(4).is_empty());
        assert_eq!(t.unpin(9), Some(9));
    }
}
