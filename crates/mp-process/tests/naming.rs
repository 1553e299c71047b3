//! Python's naming rules (cpython-inventory §a3), alone in their own binary
//! so no concurrent test advances the process counter.

use mp_process::{get_context, Process};

fn noop() {}

#[test]
fn counter_advances_for_every_construction_named_or_not() {
    let a = Process::new(noop, ());
    let b = Process::new(noop, ()).name("named");
    let c = Process::new(noop, ());
    let n = a.identity()[0];
    assert_eq!(a.get_name(), format!("Process-{n}"));
    assert_eq!(b.get_name(), "named");
    assert_eq!(b.identity(), &[n + 1]);
    assert_eq!(c.get_name(), format!("Process-{}", n + 2));
    let fork = get_context(Some("fork")).unwrap().process(noop, ());
    assert_eq!(fork.get_name(), format!("ForkProcess-{}", n + 3));
    let spawn = get_context(Some("spawn")).unwrap().process(noop, ());
    assert_eq!(spawn.get_name(), format!("SpawnProcess-{}", n + 4));
    let fs = get_context(Some("forkserver")).unwrap().process(noop, ());
    assert_eq!(fs.get_name(), format!("ForkServerProcess-{}", n + 5));
}
