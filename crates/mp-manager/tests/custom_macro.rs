//! A custom type registered through `#[mp_manager::shared]`: the generated
//! proxy's methods from the parent and from a child process, and the
//! methods the macro does not expose.

mod common;

use mp_manager::{Manager, ManagerError, Proxy, RemoteErrorKind};
use mp_process::Process;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Tally {
    total: i64,
    log: Vec<String>,
}

// `pub(crate)` rather than `pub` only because this test crate denies
// unreachable `pub` items; both are exposed (the crate docs use `pub`).
#[mp_manager::shared]
impl Tally {
    /// Creates an empty tally (an associated function: not exposed).
    pub(crate) fn new() -> Self {
        Tally {
            total: 0,
            log: Vec::new(),
        }
    }

    /// Adds `by` and returns the new total.
    pub(crate) fn add(&mut self, by: i64) -> i64 {
        self.total += by;
        self.total
    }

    /// The total.
    pub(crate) fn total(&self) -> i64 {
        self.total
    }

    /// Records `times` copies of `entry`.
    pub(crate) fn record(&mut self, entry: String, times: usize) {
        for _ in 0..times {
            self.log.push(entry.clone());
        }
    }

    /// The recorded entries.
    pub(crate) fn entries(&self) -> Vec<String> {
        self.log.clone()
    }

    /// Clears everything; returns nothing.
    pub(crate) fn reset(&mut self) {
        self.clear_log();
        self.total = 0;
    }

    /// A copy of the whole value (`Self` in a signature means `Tally`).
    pub(crate) fn snapshot(&self) -> Self {
        Tally {
            total: self.total,
            log: self.log.clone(),
        }
    }

    /// Fails for a negative amount (a `Result` travels as a value).
    pub(crate) fn checked_add(&mut self, by: i64) -> Result<i64, String> {
        if by < 0 {
            return Err(format!("negative amount {by}"));
        }
        Ok(self.add(by))
    }

    fn clear_log(&mut self) {
        self.log.clear();
    }
}

#[derive(Serialize, Deserialize)]
struct Flag(bool);

#[mp_manager::shared(proxy = Switch, typeid = "custom_macro::Flag", vis = pub(crate))]
impl Flag {
    pub(crate) fn toggle(&mut self) -> bool {
        self.0 = !self.0;
        self.0
    }
}

fn child(t: TallyProxy, s: Switch) -> Result<(), ManagerError> {
    t.add(10)?;
    t.record("child".to_string(), 2)?;
    assert_eq!(t.total()?, 15);
    s.toggle()?;
    Ok(())
}

#[test]
fn generated_proxy_works_in_parent_and_child() {
    let manager = Manager::builder()
        .register::<Tally>()
        .register::<Flag>()
        .start()
        .unwrap();
    let t = manager.create(Tally::new()).unwrap();
    let s = manager.create(Flag(false)).unwrap();
    assert_eq!(t.add(5).unwrap(), 5);
    t.record("parent".to_string(), 1).unwrap();

    common::run(Process::new(child, (t.clone(), s.clone())));

    assert_eq!(t.total().unwrap(), 15);
    assert_eq!(t.entries().unwrap(), ["parent", "child", "child"]);
    let snap: Tally = t.snapshot().unwrap();
    assert_eq!((snap.total, snap.log.len()), (15, 3));
    assert_eq!(t.checked_add(1).unwrap(), Ok(16));
    assert_eq!(
        t.checked_add(-1).unwrap(),
        Err("negative amount -1".to_string())
    );
    t.reset().unwrap();
    assert_eq!(t.total().unwrap(), 0);
    assert!(t.entries().unwrap().is_empty());

    // Arguments went through the attribute's options.
    assert!(!s.toggle().unwrap(), "the child toggled it on");
    assert_eq!(s.base().typeid(), "custom_macro::Flag");
    assert_eq!(<Switch as Proxy>::TYPEID, "custom_macro::Flag");
    assert_eq!(<TallyProxy as Proxy>::TYPEID, "Tally");
}

#[test]
fn unexposed_methods_are_refused() {
    let manager = Manager::builder().register::<Tally>().start().unwrap();
    let t = manager.create(Tally::new()).unwrap();
    t.record("x".to_string(), 1).unwrap();
    for name in ["clear_log", "new", "nope"] {
        match t.base().call::<_, ()>(name, &()) {
            Err(ManagerError::Remote(e)) => {
                assert_eq!(e.kind, RemoteErrorKind::Protocol);
                assert!(e.message.contains("not exposed"), "{e}");
                assert!(e.message.contains(name), "{e}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // Wrong argument types are an error reply, not a crash of the server.
    assert!(t.base().call::<_, i64>("add", &("ten",)).is_err());
    assert_eq!(t.entries().unwrap(), ["x"], "nothing was cleared");
    // The generated proxy travels like a built-in one (serde), and its
    // `Debug` is the base proxy's.
    assert!(format!("{t:?}").contains("typeid 'Tally'"));
}
