//! The authentication key never appears in the `Debug` or `Display` output
//! of anything that holds it: `current_process()` (in the parent and in a
//! child), `parent_process()`, a `Process` given its own key (before, during
//! and after its run), a `Context`, and `AuthKey` itself. Runs under the
//! start method of `MULTIPROCESS_START_METHOD`.

mod common;

use mp_process::{current_process, get_context, parent_process, AuthKey, Process};
use mp_wire::SharedFd;

/// A key whose bytes are easy to spot: 0xA5, 0x5A, 0xC3, 0x3C, ...
fn key(seed: u8) -> Vec<u8> {
    (0..32u8)
        .map(|i| [0xA5, 0x5A, 0xC3, 0x3C][usize::from(i % 4)] ^ seed.wrapping_add(i))
        .collect()
}

/// Fails if `shown` contains the first bytes of `key` as a run of decimal
/// numbers (any separators: `Vec<u8>`'s `{:?}` and `{:#?}`) or as hex.
fn assert_hidden(shown: &str, key: &[u8]) {
    let numbers: Vec<u32> = shown
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|t| t.parse().ok())
        .collect();
    let head: Vec<u32> = key[..4].iter().map(|&b| u32::from(b)).collect();
    assert!(
        !numbers.windows(4).any(|w| w == head.as_slice()),
        "decimal key bytes in {shown}"
    );
    let hex: String = key[..4].iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        !shown.to_ascii_lowercase().contains(&hex),
        "hex key bytes in {shown}"
    );
}

fn all_forms<T: std::fmt::Debug + std::fmt::Display>(v: &T) -> String {
    format!("{v:?}\n{v:#?}\n{v}")
}

fn describe_self(out: SharedFd) {
    let me = current_process();
    let parent = parent_process().expect("a child has a parent");
    let text = format!("{}\n{}", all_forms(&me), all_forms(&parent));
    // One line per report: the test reads lines.
    common::report(&out, &text.replace('\n', "\\n"));
}

#[test]
fn no_debug_or_display_shows_the_key() {
    let ours = key(0);
    mp_process::set_current_process_authkey(ours.clone());
    assert_hidden(&all_forms(&current_process()), &ours);
    assert_eq!(current_process().authkey(), ours.as_slice());

    let k = AuthKey::from(ours.clone());
    assert_hidden(&format!("{k:?} {k:#?}"), &ours);

    let ctx = get_context(None).unwrap();
    assert_hidden(&format!("{ctx:?} {ctx:#?}"), &ours);

    let theirs = key(7);
    let (reports, out) = common::reports();
    let mut p = Process::new(describe_self, (out,)).authkey(theirs.clone());
    assert_hidden(&all_forms(&p), &theirs);
    p.start().unwrap();
    assert_hidden(&all_forms(&p), &theirs);
    let child = reports.take(1).join("\n");
    assert!(child.contains("name"), "{child}");
    assert_hidden(&child, &theirs);
    assert_hidden(&child, &ours);
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert_hidden(&all_forms(&p), &theirs);
    assert_eq!(p.get_authkey(), theirs);
}

#[test]
fn the_check_sees_a_printed_key() {
    let k = key(3);
    let hex: String = k.iter().map(|b| format!("{b:02X}")).collect();
    for leak in [format!("{k:?}"), format!("{k:#?}"), hex] {
        let caught = std::panic::catch_unwind(|| assert_hidden(&leak, &k));
        assert!(caught.is_err(), "not caught: {leak}");
    }
}
