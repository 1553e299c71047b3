//! The manager's authkey never appears in the `Debug` output (`{:?}` or
//! `{:#?}`) of what holds it: the builder, the manager (started and
//! serving in this process), its proxies (typed and base), and a proxy
//! decoded from a reply. Runs under the start method of
//! `MULTIPROCESS_START_METHOD`.

use std::fmt::Debug;

use mp_manager::{Address, Manager, Proxy};
use mp_process::AuthKey;

/// A key whose bytes are easy to spot: 0xA5, 0x5A, 0xC3, 0x3C, ...
fn key() -> Vec<u8> {
    (0..32u8)
        .map(|i| [0xA5, 0x5A, 0xC3, 0x3C][usize::from(i % 4)] ^ i)
        .collect()
}

/// Fails if `v`'s `{:?}` or `{:#?}` shows `key` (as decimal bytes or hex).
fn assert_hidden<T: Debug>(what: &str, v: &T, key: &[u8]) {
    let shown = format!("{v:?}\n{v:#?}");
    assert!(
        !AuthKey::from(key).is_shown_in(&shown),
        "key bytes in the {what}: {shown}"
    );
}

#[test]
fn the_check_sees_a_printed_key() {
    let key = key();
    let caught = std::panic::catch_unwind(|| assert_hidden("key", &key, &key));
    assert!(caught.is_err(), "a Vec<u8> key went unnoticed");
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let caught = std::panic::catch_unwind(|| assert_hidden("hex", &hex, &key));
    assert!(caught.is_err(), "a hex key went unnoticed");
}

#[test]
fn no_debug_output_shows_the_managers_key() {
    let key = key();
    let builder = Manager::builder()
        .address(Address::tcp_loopback(0))
        .authkey(key.clone());
    assert_hidden("builder", &builder, &key);
    let manager = builder.start().unwrap();
    assert_hidden("manager", &manager, &key);

    let dict = manager.dict::<u32, u32>().unwrap();
    assert_hidden("dict proxy", &dict, &key);
    assert_hidden("base proxy", dict.base(), &key);
    let list = manager.list::<String>().unwrap();
    assert_hidden("list proxy", &list, &key);
    let lock = manager.lock().unwrap();
    assert_hidden("lock proxy", &lock, &key);
    let ns = manager.namespace().unwrap();
    assert_hidden("namespace proxy", &ns, &key);

    // A proxy that made a round trip through the server (nested in a
    // managed list) carries the key it was decoded with.
    let outer = manager.list::<mp_manager::DictProxy<u32, u32>>().unwrap();
    outer.append(dict.clone()).unwrap();
    let back = outer.get(0).unwrap();
    assert_hidden("proxy nested in a reply", &back, &key);
}

#[test]
fn a_serving_manager_hides_its_key_too() {
    let key = key();
    Manager::builder()
        .authkey(key.clone())
        .serve_forever(|mut m| {
            assert_hidden("serving manager", &m, &key);
            let v = m.value(3u8).unwrap();
            assert_hidden("value proxy", &v, &key);
            m.shutdown().unwrap();
        })
        .unwrap();
}
