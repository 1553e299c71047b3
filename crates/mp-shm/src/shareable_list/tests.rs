//! ShareableList: Python's semantics, hostile blocks, and byte
//! compatibility with `python3` in both directions.

use super::*;

fn sample() -> Vec<Item> {
    vec![
        1.into(),
        2.5.into(),
        true.into(),
        Item::None,
        "héllo".into(),
        b"by\0tes".as_slice().into(),
        "x".repeat(8).into(),
    ]
}

#[test]
fn mixed_items_formats_and_slot_capacity() {
    let l = ShareableList::new(sample()).unwrap();
    assert_eq!(l.len(), 7);
    assert_eq!(l.to_vec().unwrap(), sample());
    assert_eq!(l.format(), "qdxxxxxxx?xxxxxx?x8s8s16s");
    // Any 8-byte item fits any slot; text fits up to the slot's size.
    l.set(4, 7).unwrap();
    l.set(0, "eight!!!").unwrap();
    assert_eq!(l.format(), "8sdxxxxxxx?xxxxxx?xq8s16s");
    assert!(matches!(
        l.set(0, "nine bytes"),
        Err(ShmError::ItemTooLarge {
            index: 0,
            len: 10,
            capacity: 8
        })
    ));
    l.set(6, b"".as_slice()).unwrap();
    assert_eq!(l.get(6).unwrap(), Item::Bytes(vec![]));
    assert_eq!(l.get(4).unwrap(), Item::Int(7));
    assert!(matches!(
        l.get(7),
        Err(ShmError::IndexOutOfRange { index: 7, len: 7 })
    ));
    assert!(l.set(7, 1).is_err());
    assert_eq!(l.index(Item::None).unwrap(), 3);
    assert_eq!(l.count(true), 1);
    assert!(matches!(l.index(99), Err(ShmError::NotInContainer)));
    let text = format!("{l:?}");
    assert!(
        text.starts_with(
            "ShareableList(['eight!!!', 2.5, True, None, 7, b'by\\x00tes', b''], name='"
        ),
        "{text}"
    );
    let empty = ShareableList::new(Vec::<Item>::new()).unwrap();
    assert!(ShareableList::attach(empty.shm().name())
        .unwrap()
        .is_empty());
}

#[test]
fn crosses_processes_as_a_handle() {
    let l = ShareableList::new(sample()).unwrap();
    let msg = mp_wire::encode(&l).unwrap();
    let r: ShareableList = crate::with_fresh_mappings(|| mp_wire::decode(msg)).unwrap();
    r.set(1, -0.5).unwrap();
    assert_eq!(l.get(1).unwrap(), Item::Float(-0.5));
}

#[test]
fn hostile_blocks_are_errors() {
    let write = |bytes: &[u8]| {
        let shm = SharedMemory::create(256).unwrap();
        shm.write(0, bytes).unwrap();
        shm
    };
    let words = |w: &[u64]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    for (bytes, why) in [
        (words(&[u64::MAX]), "length"),
        (words(&[1_000_000, 0, 8]), "length"),
        (words(&[1, 8, 16]), "offsets"),
        (words(&[1, 0, 4]), "offsets"),
        (words(&[1, 0, 800]), "fit"),
        // An offset whose successor's lower bound would wrap round (it
        // overflowed, and let offsets that go back down through).
        (words(&[2, 0, u64::MAX - 3, 5]), "offsets"),
    ] {
        let shm = write(&bytes);
        let err = ShareableList::attach(shm.name()).unwrap_err();
        assert!(
            matches!(&err, ShmError::BadList { why: w, .. } if w.contains(why)),
            "{err}"
        );
    }
    // A well-formed header with a garbage slot: the read is an error.
    let l = ShareableList::new([1]).unwrap();
    let (_, formats, codes, _) = l.layout();
    l.shm().write(formats, b"99s\0\0\0\0\0").unwrap();
    l.shm().write(codes, &[2]).unwrap();
    assert!(matches!(l.get(0), Err(ShmError::BadList { .. })));
    l.shm().write(codes, &[9]).unwrap();
    assert!(matches!(l.get(0), Err(ShmError::BadList { .. })));
}

#[test]
fn a_slot_too_large_for_a_text_format_takes_no_text() {
    // One slot of 10,000,000 bytes (a sparse block): its text format would
    // be "10000000s", 9 characters where the layout has room for 8.
    let slot = 10_000_000;
    let (data_start, formats, codes, size) = parts(1, slot).unwrap();
    let shm = SharedMemory::create(size).unwrap();
    for (at, word) in [(0, 1u64), (8, 0), (16, slot as u64)] {
        shm.write(at, &word.to_le_bytes()).unwrap();
    }
    shm.write(formats, b"q").unwrap();
    shm.write(codes, &[0]).unwrap();
    shm.write(data_start, &7i64.to_le_bytes()).unwrap();
    let l = ShareableList::attach(shm.name()).unwrap();
    assert_eq!(l.get(0).unwrap(), Item::Int(7));
    // Before, this panicked writing the format.
    assert!(matches!(l.set(0, "x"), Err(ShmError::BadList { .. })));
    assert!(matches!(
        l.set(0, b"y".as_slice()),
        Err(ShmError::BadList { .. })
    ));
    assert_eq!(l.get(0).unwrap(), Item::Int(7), "nothing written");
    // Fixed-width items still fit it.
    l.set(0, 2.5).unwrap();
    assert_eq!(l.get(0).unwrap(), Item::Float(2.5));
}

/// Runs `python3 -c script args...` and returns its stdout.
fn python(script: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed for the compatibility tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Attaching from Python makes Python 3.11's resource tracker claim the
/// name (gh-82300); the scripts unregister it again.
const UNTRACK: &str = "from multiprocessing import resource_tracker as rt\n\
                       def untrack(sl): rt.unregister(sl.shm._name, 'shared_memory')\n";

#[test]
fn python_reads_and_writes_a_list_made_here() {
    let l = ShareableList::new(sample()).unwrap();
    let script = format!(
        "{UNTRACK}import sys\nfrom multiprocessing.shared_memory import ShareableList\n\
         sl = ShareableList(name=sys.argv[1]); untrack(sl)\n\
         print(repr(list(sl)), sl.format)\n\
         sl[0] = 'py'; sl[3] = 12345678901; sl[6] = b'0123456789abcdef'\n\
         sl.shm.close()\n"
    );
    let out = python(&script, &[l.shm().name()]);
    assert_eq!(
        out.trim(),
        "[1, 2.5, True, None, 'héllo', b'by\\x00tes', 'xxxxxxxx'] qdxxxxxxx?xxxxxx?x8s8s16s"
    );
    assert_eq!(l.get(0).unwrap(), Item::from("py"));
    assert_eq!(l.get(3).unwrap(), Item::Int(12_345_678_901));
    assert_eq!(
        l.get(6).unwrap(),
        Item::from(b"0123456789abcdef".as_slice())
    );
}

#[test]
fn a_list_made_by_python_reads_here() {
    let script = format!(
        "{UNTRACK}from multiprocessing.shared_memory import ShareableList\n\
         sl = ShareableList([-3, 0.25, False, None, 'ab', b'\\x00z', 'long string here']); untrack(sl)\n\
         print(sl.shm.name); sl.shm.close()\n"
    );
    let name = python(&script, &[]).trim().to_owned();
    let l = ShareableList::attach(&name).unwrap();
    l.shm().unlink().unwrap();
    assert_eq!(
        l.to_vec().unwrap(),
        [
            Item::Int(-3),
            Item::Float(0.25),
            Item::Bool(false),
            Item::None,
            Item::from("ab"),
            Item::from(b"\0z".as_slice()),
            Item::from("long string here"),
        ]
    );
    assert_eq!(l.format(), "qdxxxxxxx?xxxxxx?x8s8s24s");
    l.set(6, "and back").unwrap();
    assert_eq!(l.get(6).unwrap(), Item::from("and back"));
}

#[test]
fn a_block_too_large_to_read_is_an_error_not_an_abort() {
    // A sparse block of 1 TiB (no memory until written) whose header claims
    // as many items as that allows: the offsets alone would take 320 GiB.
    // Allocated fallibly, that is an error; before, the failed allocation
    // aborted the process.
    let size = 1usize << 40;
    let Ok(shm) = SharedMemory::create(size) else {
        return; // (a system that refuses such a sparse block)
    };
    let n = (size / 25) as u64;
    shm.write(0, &n.to_le_bytes()).unwrap();
    let err = ShareableList::attach(shm.name()).unwrap_err();
    assert!(
        matches!(&err, ShmError::BadList { why, .. } if why.contains("memory")),
        "{err}"
    );
}
