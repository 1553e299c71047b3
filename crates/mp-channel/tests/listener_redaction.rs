//! A `Listener`'s authkey never appears in its `Debug` output, before or
//! after it has handshakes under way.

use std::os::unix::net::UnixStream;
use std::time::Duration;

use mp_channel::{Address, ConnectError, Listener};
use mp_wire::AuthKey;

#[test]
fn a_listeners_debug_hides_its_key() {
    let bytes: Vec<u8> = (0..32u8).map(|i| 0xA5 ^ i.wrapping_mul(37)).collect();
    let key = AuthKey::from(bytes.clone());
    let listener = Listener::bind(None, Some(&bytes)).unwrap();
    let shown = format!("{listener:?}\n{listener:#?}");
    assert!(!key.is_shown_in(&shown), "{shown}");
    let Address::Unix(path) = listener.address().clone() else {
        panic!("not unix")
    };
    let _silent = UnixStream::connect(path).unwrap();
    assert!(matches!(
        listener.accept_timeout(Duration::from_millis(100)),
        Err(ConnectError::Timeout)
    ));
    assert_eq!(listener.pending_handshakes(), 1);
    let shown = format!("{listener:?}\n{listener:#?}");
    assert!(!key.is_shown_in(&shown), "{shown}");
    // The check itself sees a printed key.
    assert!(key.is_shown_in(&format!("{bytes:?}")));
}
