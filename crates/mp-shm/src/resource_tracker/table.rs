//! The registration table: a sealed shared region where creators record
//! their names with a few atomic stores (no system call, no wake-up of the
//! tracker), and where the tracker finds what a dead creator left.
//!
//! Layout: a 64-byte header (the high-water mark, `u32`), [`SLOTS`] state
//! words (`u32`: free, busy, live; packed, so a scan reads few cache lines),
//! then [`SLOTS`] entries of 272 bytes: creator ([`ProcessIdent`] bits,
//! `u64`), name length (`u32`), padding, name (at most 255 bytes).
//!
//! A slot goes free → writing (compare-and-swap: the writer owns it) → live
//! (entry written, `Release`) → free again when its name is unregistered.
//! Whoever looks entries up (the tracker after a death, a process
//! unregistering someone else's name) first claims a live slot (live →
//! claimed), reads it, and then either takes it (claimed → free) or puts it
//! back (claimed → live); both are compare-and-swaps, so if the owner freed
//! the slot meanwhile, or someone else reused it, nothing is taken or
//! resurrected.
//! Every process of the tree that maps the table is trusted as much as the
//! creator (same user, same tree); the tracker still checks lengths.
//!
//! [`ProcessIdent`]: crate::ProcessIdent

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::region::Region;

/// How many names can be registered at once; more go untracked (the
/// creator's exit hook still unlinks them).
pub(crate) const SLOTS: usize = 16384;
const HEADER: usize = 64;
const STATES: usize = HEADER;
const ENTRIES: usize = STATES + SLOTS * 4;
const ENTRY: usize = 272;
const NAME_AT: usize = 16;
/// The longest name an entry holds (`NAME_MAX`).
pub(crate) const MAX_NAME: usize = 255;
/// The table's size in bytes.
pub(crate) const TABLE_LEN: usize = ENTRIES + SLOTS * ENTRY;

const FREE: u32 = 0;
const WRITING: u32 = 1;
const LIVE: u32 = 2;
const CLAIMED: u32 = 3;

/// A mapped registration table.
pub(crate) struct Table(Region);

impl Table {
    /// A new, empty table.
    pub(crate) fn create() -> io::Result<Table> {
        Region::create("mp-shm-tracker", TABLE_LEN).map(Table)
    }

    /// The table in `region`, if it has the table's size.
    pub(crate) fn from_region(region: Region) -> Option<Table> {
        (region.len() == TABLE_LEN).then_some(Table(region))
    }

    /// The region (to send its fd to the tracker).
    pub(crate) fn region(&self) -> &Region {
        &self.0
    }

    /// A word of the table; `None` only if the table were shorter than
    /// [`TABLE_LEN`], which creation and receipt rule out.
    fn word(&self, at: usize) -> Option<&AtomicU32> {
        self.0.atomic_u32(at).ok()
    }

    fn state(&self, slot: usize) -> Option<&AtomicU32> {
        self.word(STATES + 4 * slot)
    }

    fn high_water(&self) -> usize {
        self.word(0)
            .map_or(0, |w| w.load(Ordering::Acquire) as usize)
            .min(SLOTS)
    }

    /// Records `name` for `creator` in the lowest free slot; `None` if the
    /// name is too long or the table is full.
    pub(crate) fn register(&self, creator: u64, name: &str) -> Option<u32> {
        if name.is_empty() || name.len() > MAX_NAME {
            return None;
        }
        let (slot, state) = (0..SLOTS).find_map(|i| {
            let state = self.state(i)?;
            state
                .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
                .then_some((i, state))
        })?;
        let at = ENTRIES + slot * ENTRY;
        let mut head = [0u8; NAME_AT];
        head[..8].copy_from_slice(&creator.to_le_bytes());
        head[8..12].copy_from_slice(&(name.len() as u32).to_le_bytes());
        let written =
            self.0.write(at, &head).is_ok() && self.0.write(at + NAME_AT, name.as_bytes()).is_ok();
        let high_water = self.word(0);
        if !written || high_water.is_none() {
            state.store(FREE, Ordering::Release);
            return None;
        }
        if let Some(w) = high_water {
            w.fetch_max(slot as u32 + 1, Ordering::AcqRel);
        }
        state.store(LIVE, Ordering::Release);
        Some(slot as u32)
    }

    /// Frees `slot`, registered by this process (its name was unlinked or
    /// handed over), even while someone has it claimed for a look-up.
    pub(crate) fn release(&self, slot: u32) {
        let Some(state) = self
            .state(slot as usize)
            .filter(|_| (slot as usize) < SLOTS)
        else {
            return;
        };
        // A claimer flips the state at most twice per look-up: a few tries
        // suffice, and a claimer that died mid-look-up cannot stall us.
        for _ in 0..64 {
            let now = state.load(Ordering::Acquire);
            if now != LIVE && now != CLAIMED {
                return;
            }
            if state
                .compare_exchange(now, FREE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Reads a claimed entry: (creator, name).
    fn entry(&self, slot: usize) -> Option<(u64, String)> {
        let at = ENTRIES + slot * ENTRY;
        let mut head = [0u8; NAME_AT];
        self.0.read(at, &mut head).ok()?;
        let creator = u64::from_le_bytes(head[..8].try_into().ok()?);
        let len = u32::from_le_bytes(head[8..12].try_into().ok()?) as usize;
        if len == 0 || len > MAX_NAME {
            return None;
        }
        let mut name = vec![0u8; len];
        self.0.read(at + NAME_AT, &mut name).ok()?;
        Some((creator, String::from_utf8(name).ok()?))
    }

    /// Claims the live entries for which `take(creator, name)` holds, frees
    /// their slots and returns their names.
    pub(crate) fn take(&self, mut take: impl FnMut(u64, &str) -> bool) -> Vec<String> {
        let mut taken = Vec::new();
        for slot in 0..self.high_water() {
            let Some(state) = self.state(slot) else {
                break;
            };
            if state
                .compare_exchange(LIVE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            let entry = self.entry(slot);
            let wanted = entry.as_ref().is_some_and(|(c, n)| take(*c, n));
            // Fails if the owner freed the slot meanwhile: then it is not
            // ours to take, nor to put back.
            let still_claimed = state
                .compare_exchange(
                    CLAIMED,
                    if wanted { FREE } else { LIVE },
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok();
            if wanted && still_claimed {
                taken.extend(entry.map(|(_, n)| n));
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_release_take() {
        let t = Table::create().unwrap();
        let a = t.register(1, "a").unwrap();
        let b = t.register(2, "b").unwrap();
        assert_eq!((a, b), (0, 1));
        t.release(a);
        assert_eq!(t.register(3, "c"), Some(0), "the lowest free slot");
        assert!(t.register(1, &"n".repeat(MAX_NAME + 1)).is_none());
        assert_eq!(t.take(|c, _| c == 2), ["b"]);
        assert_eq!(t.take(|_, n| n == "c"), ["c"]);
        assert!(t.take(|_, _| true).is_empty());
        // Released while claimed: neither taken nor put back.
        let d = t.register(4, "d").unwrap();
        let taken = t.take(|_, _| {
            t.release(d);
            true
        });
        assert!(taken.is_empty());
        assert_eq!(t.register(5, "e"), Some(d), "the slot is free again");
    }
}
