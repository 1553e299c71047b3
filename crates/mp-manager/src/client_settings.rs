//! How this process's clients treat one server address: how long to keep
//! trying to reach a server that cannot be reached, and how long a call
//! waits for its reply ([`ManagerBuilder::reconnect`] and
//! [`ManagerBuilder::call_timeout`]).
//!
//! Kept, like the table of keys, in an append-only table of write-once
//! slots (the latest entry for an address wins), so reading it takes no
//! lock that a `fork` could leave held, and a process that never set
//! anything pays one atomic load per call.
//!
//! [`ManagerBuilder::reconnect`]: crate::ManagerBuilder::reconnect
//! [`ManagerBuilder::call_timeout`]: crate::ManagerBuilder::call_timeout

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use mp_channel::Address;

/// The settings of one address. The default is CPython's behaviour: fail
/// at once when the server cannot be reached, wait for replies for ever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClientSettings {
    /// How long a call keeps trying to reach a server that refuses
    /// connections or whose socket is missing (it may be restarting).
    pub(crate) reconnect: Duration,
    /// The longest a call waits for its reply.
    pub(crate) call_timeout: Option<Duration>,
}

/// How many settings a process records; later ones are ignored (and say so
/// in the log).
const SLOTS: usize = 64;

static TABLE: [OnceLock<(Address, ClientSettings)>; SLOTS] = [const { OnceLock::new() }; SLOTS];
static USED: AtomicUsize = AtomicUsize::new(0);

/// Records `settings` for `address` (unless they are already in force).
pub(crate) fn set(address: &Address, settings: ClientSettings) {
    if get(address) == settings {
        return;
    }
    let slot = USED.fetch_add(1, Ordering::AcqRel);
    match TABLE.get(slot) {
        Some(cell) => {
            let _ = cell.set((address.clone(), settings));
        }
        None => log::warn!(
            target: mp_process::LOG_TARGET,
            "manager: more than {SLOTS} client settings in one process; those for {address} are ignored"
        ),
    }
}

/// The settings in force for `address`.
pub(crate) fn get(address: &Address) -> ClientSettings {
    let used = USED.load(Ordering::Acquire).min(SLOTS);
    if used == 0 {
        return ClientSettings::default();
    }
    TABLE[..used]
        .iter()
        .rev()
        .filter_map(OnceLock::get)
        .find(|(a, _)| a == address)
        .map_or_else(ClientSettings::default, |(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_setting_wins_and_others_keep_the_default() {
        let a = Address::Unix("/tmp/mp-settings-test-a".into());
        let b = Address::Unix("/tmp/mp-settings-test-b".into());
        assert_eq!(get(&a), ClientSettings::default());
        let first = ClientSettings {
            reconnect: Duration::from_secs(1),
            call_timeout: None,
        };
        set(&a, first);
        assert_eq!(get(&a), first);
        let second = ClientSettings {
            call_timeout: Some(Duration::from_secs(2)),
            ..first
        };
        set(&a, second);
        assert_eq!(get(&a), second);
        assert_eq!(get(&b), ClientSettings::default());
    }
}
