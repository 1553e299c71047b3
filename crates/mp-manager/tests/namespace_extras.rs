//! `Manager::namespace_from` (Python's `manager.Namespace(a=1, b='x')`)
//! and `ValueProxy`'s Python-style `Display`; under the start method chosen
//! by the environment.

mod common;

use common::run;
use mp_manager::{Manager, ManagerError, NamespaceInit, NamespaceProxy, ValueProxy};
use mp_process::Process;

type R = Result<(), ManagerError>;

/// Checks the initial values from a child and adds one.
fn check_in_child(ns: NamespaceProxy) -> R {
    let ok = ns.get::<i32>("a")? == 1
        && ns.get::<String>("b")? == "x"
        && ns.get::<Vec<u8>>("c")? == [1, 2];
    if !ok {
        return Err(ManagerError::State("wrong initial values".into()));
    }
    ns.set("from_child", &true)
}

#[test]
fn namespace_with_initial_values() {
    let manager = Manager::new().unwrap();
    let ns = manager
        .namespace_from(
            NamespaceInit::new()
                .set("b", "x")
                .set("a", &0)
                .set("c", &vec![1u8, 2])
                .set("a", &1), // a name given twice keeps its last value
        )
        .unwrap();
    assert_eq!(ns.names().unwrap(), ["a", "b", "c"]);
    run(Process::new(check_in_child, (ns.clone(),)));
    assert!(ns.get::<bool>("from_child").unwrap());

    let empty = manager.namespace_from(NamespaceInit::new()).unwrap();
    assert!(empty.names().unwrap().is_empty());

    // A value holding a file descriptor cannot be stored: the error comes
    // out of `namespace_from`, and nothing is created.
    let before = manager.number_of_objects().unwrap();
    let fd = mp_wire::SharedFd::from(mp_sys::fd::devnull().unwrap());
    let err = manager
        .namespace_from(NamespaceInit::new().set("ok", &1).set("fd", &fd))
        .unwrap_err();
    assert!(matches!(err, ManagerError::HoldsFds), "{err:?}");
    assert_eq!(manager.number_of_objects().unwrap(), before);
}

fn bump(v: ValueProxy<i32>) -> R {
    v.set(v.get()? + 1)
}

#[test]
fn value_display_is_pythons_str() {
    let manager = Manager::new().unwrap();
    let v = manager.value(5i32).unwrap();
    run(Process::new(bump, (v.clone(),)));
    // Python: str(manager.Value('i', 6)) == "Value('i', 6)".
    assert_eq!(v.to_string(), "Value(i32, 6)");
    let s = manager.value(String::from("x")).unwrap();
    assert_eq!(s.to_string(), "Value(String, \"x\")");
    let o = manager.value(Some(vec![1u8])).unwrap();
    assert_eq!(o.to_string(), "Value(Option<Vec<u8>>, Some([1]))");
    assert!(format!("{v:?}").starts_with("<ValueProxy object, typeid 'Value' at "));
}

/// Sets a struct-valued attribute from a child.
fn set_point(ns: NamespaceProxy) -> R {
    #[derive(serde::Serialize)]
    struct Point {
        x: i32,
        y: i32,
    }
    ns.set("p", &Point { x: 1, y: -2 })
}

#[test]
fn namespace_displays_as_python_does() {
    let manager = Manager::new().unwrap();
    let ns = manager
        .namespace_from(NamespaceInit::new().set("x", &42).set("a", &1))
        .unwrap();
    // CPython: `Namespace(a=1, x=42)`.
    assert_eq!(ns.to_string(), "Namespace(a=1, x=42)");
    ns.set("_hidden", &0).unwrap();
    ns.set("s", "it's").unwrap();
    ns.set("v", &vec![Some(1.5), None]).unwrap();
    run(Process::new(set_point, (ns.clone(),)));
    assert_eq!(
        ns.to_string(),
        r#"Namespace(a=1, p=Point { x: 1, y: -2 }, s="it's", v=[Some(1.5), None], x=42)"#
    );
    ns.delete("a").unwrap();
    assert!(ns.to_string().starts_with("Namespace(p="));
    assert_eq!(manager.namespace().unwrap().to_string(), "Namespace()");
}
