//! The typed proxies, used from the parent and from children, under the
//! start method chosen by the environment.

mod common;

use std::time::{Duration, Instant};

use common::{finish, run};
use mp_manager::{
    DictProxy, ListProxy, Manager, ManagerError, NamespaceProxy, RemoteErrorKind, ValueProxy,
};
use mp_process::Process;

type R = Result<(), ManagerError>;

fn set_in_child(d: DictProxy<u32, u32>, key: u32, value: u32) -> R {
    d.set(key, value)
}

#[test]
fn dict_from_children_and_every_method() {
    let manager = Manager::new().unwrap();
    let d: DictProxy<u32, u32> = manager.dict().unwrap();
    let mut jobs: Vec<Process> = (0..4)
        .map(|i| Process::new(set_in_child, (d.clone(), i, i * 2)))
        .collect();
    for p in &mut jobs {
        p.start().unwrap();
    }
    for p in &mut jobs {
        finish(p);
    }
    assert_eq!(d.len().unwrap(), 4);
    let mut items = d.items().unwrap();
    items.sort();
    assert_eq!(items, vec![(0, 0), (1, 2), (2, 4), (3, 6)]);
    let shown = d.to_string();
    assert!(shown.starts_with('{') && shown.contains("3: 6"), "{shown}");

    assert_eq!(d.get(&1).unwrap(), Some(2));
    assert_eq!(d.get(&9).unwrap(), None);
    assert_eq!(
        d.get_item(&9).unwrap_err().remote_kind(),
        Some(RemoteErrorKind::Key)
    );
    assert_eq!(d.insert(1, 20).unwrap(), Some(2));
    assert!(d.contains_key(&1).unwrap());
    assert_eq!(d.remove(&1).unwrap(), Some(20));
    assert!(!d.contains_key(&1).unwrap());
    assert_eq!(
        d.pop(&1).unwrap_err().remote_kind(),
        Some(RemoteErrorKind::Key)
    );
    assert_eq!(d.pop(&2).unwrap(), 4);
    assert_eq!(d.setdefault(7, 70).unwrap(), 70);
    assert_eq!(d.setdefault(7, 71).unwrap(), 70);
    d.update([(8, 80), (9, 90)]).unwrap();
    // Children inserted 0..4 in any order; later keys follow in order.
    let keys = d.keys().unwrap();
    assert_eq!(&keys[2..], &[7, 8, 9]);
    let values = d.values().unwrap();
    assert_eq!(&values[2..], &[70, 80, 90]);
    assert_eq!(values[0], keys[0] * 2);
    assert_eq!(d.popitem().unwrap(), (9, 90));
    d.clear().unwrap();
    assert!(d.is_empty().unwrap());
    assert_eq!(d.to_string(), "{}");

    let s: DictProxy<String, Vec<u8>> = manager.dict_from([("a".to_string(), vec![1])]).unwrap();
    assert_eq!(s.get("a").unwrap(), Some(vec![1]));
    // A mutated copy is lost; storing it back publishes it.
    let mut copy = s.get("a").unwrap().unwrap();
    copy.push(2);
    assert_eq!(s.get("a").unwrap(), Some(vec![1]));
    s.set("a".into(), copy).unwrap();
    assert_eq!(s.get("a").unwrap(), Some(vec![1, 2]));
}

fn append_in_child(l: ListProxy<(u32, String)>, i: u32) -> R {
    l.append((i, format!("item {i}")))
}

#[test]
fn list_from_children_and_every_method() {
    let manager = Manager::new().unwrap();
    let l = manager.list().unwrap();
    let mut jobs: Vec<Process> = (0..5)
        .map(|i| Process::new(append_in_child, (l.clone(), i)))
        .collect();
    for p in &mut jobs {
        p.start().unwrap();
    }
    for p in &mut jobs {
        finish(p);
    }
    assert_eq!(l.len().unwrap(), 5);
    let mut all = l.to_vec().unwrap();
    all.sort();
    assert_eq!(all[4], (4, "item 4".to_string()));

    let l: ListProxy<i32> = manager.list_from([1, 2, 3]).unwrap();
    l.append(4).unwrap();
    l.extend([5, 6]).unwrap();
    assert_eq!(l.get(-1).unwrap(), 6);
    assert_eq!(l.get(0).unwrap(), 1);
    let e = l.get(6).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Index));
    assert_eq!(e.to_string(), "list index out of range");
    l.set(0, 10).unwrap();
    assert_eq!(l.pop().unwrap(), 6);
    assert_eq!(l.pop_at(0).unwrap(), 10);
    l.remove(&3).unwrap();
    assert_eq!(
        l.remove(&3).unwrap_err().remote_kind(),
        Some(RemoteErrorKind::Value)
    );
    l.insert(-100, 0).unwrap();
    l.insert(100, 9).unwrap();
    assert_eq!(l.to_vec().unwrap(), vec![0, 2, 4, 5, 9]);
    assert_eq!(l.index(&4).unwrap(), 2);
    assert_eq!(
        l.index(&7).unwrap_err().remote_kind(),
        Some(RemoteErrorKind::Value)
    );
    assert!(l.contains(&9).unwrap());
    assert_eq!(l.count(&9).unwrap(), 1);
    assert_eq!(l.to_string(), "[0, 2, 4, 5, 9]");
    l.clear().unwrap();
    assert_eq!(l.pop().unwrap_err().to_string(), "pop from empty list");
}

fn producer(ns: NamespaceProxy, v: ValueProxy<i64>) -> R {
    ns.set("value", "This is the value")?;
    ns.set("n", &42u32)?;
    v.set(v.get()? + 1)
}

#[test]
fn namespace_and_value() {
    let manager = Manager::new().unwrap();
    let ns = manager.namespace().unwrap();
    let v = manager.value(5i64).unwrap();
    let e = ns.get::<String>("value").unwrap_err();
    assert_eq!(e.to_string(), "'Namespace' object has no attribute 'value'");
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Attribute));
    run(Process::new(producer, (ns.clone(), v.clone())));
    assert_eq!(ns.get::<String>("value").unwrap(), "This is the value");
    assert_eq!(ns.get::<u32>("n").unwrap(), 42);
    assert_eq!(
        ns.names().unwrap(),
        vec!["n".to_string(), "value".to_string()]
    );
    assert!(ns.contains("n").unwrap());
    ns.delete("n").unwrap();
    assert!(!ns.contains("n").unwrap());
    assert!(ns.delete("n").is_err());
    assert_eq!(v.get().unwrap(), 6);
    // Wrong type for the stored bytes: a decode error, not garbage.
    assert!(matches!(
        ns.get::<bool>("value"),
        Err(ManagerError::Decode(_))
    ));

    let a = manager.array([1.5f64, 2.5]).unwrap();
    assert_eq!(a.len().unwrap(), 2);
    a.set(-1, 3.5).unwrap();
    assert_eq!(a.get(1).unwrap(), 3.5);
    assert_eq!(a.to_vec().unwrap(), vec![1.5, 3.5]);
    assert!(a.get(2).is_err());
}

fn nested_writer(outer: DictProxy<String, ListProxy<u32>>) -> R {
    let inner = outer.get("inner")?.expect("inner present");
    inner.append(7)
}

#[test]
fn proxies_nested_in_containers_stay_live() {
    let manager = Manager::new().unwrap();
    let outer: DictProxy<String, ListProxy<u32>> = manager.dict().unwrap();
    let inner: ListProxy<u32> = manager.list().unwrap();
    outer.set("inner".into(), inner.clone()).unwrap();
    run(Process::new(nested_writer, (outer.clone(),)));
    outer.get("inner").unwrap().unwrap().append(8).unwrap();
    assert_eq!(inner.to_vec().unwrap(), vec![7, 8]);
}

fn hold_lock(lock: mp_manager::LockProxy, ev: mp_manager::EventProxy, ms: u64) -> R {
    let _g = lock.lock()?;
    ev.set()?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

#[test]
fn lock_event_semaphore_across_processes() {
    let manager = Manager::new().unwrap();
    let lock = manager.lock().unwrap();
    let ev = manager.event().unwrap();
    assert!(!ev.wait(Some(Duration::from_millis(10))).unwrap());
    let mut p = Process::new(hold_lock, (lock.clone(), ev.clone(), 300));
    p.start().unwrap();
    assert!(ev.wait(Some(Duration::from_secs(20))).unwrap());
    assert!(!lock.try_acquire().unwrap());
    assert!(lock.acquire_timeout(Duration::from_secs(20)).unwrap());
    lock.release().unwrap();
    assert_eq!(
        lock.release().unwrap_err().to_string(),
        "release unlocked lock"
    );
    finish(&mut p);

    let sem = manager.bounded_semaphore(2).unwrap();
    sem.acquire().unwrap();
    sem.acquire().unwrap();
    assert!(!sem.try_acquire().unwrap());
    sem.release().unwrap();
    sem.release().unwrap();
    assert_eq!(
        sem.release().unwrap_err().to_string(),
        "Semaphore released too many times"
    );
    let s = manager.semaphore(0).unwrap();
    let t = Instant::now();
    assert!(!s.acquire_timeout(Duration::from_millis(100)).unwrap());
    assert!(t.elapsed() >= Duration::from_millis(90));
    let r = manager.rlock().unwrap();
    r.acquire().unwrap();
    r.acquire().unwrap();
    r.release().unwrap();
    r.release().unwrap();
    assert!(r.release().is_err());
}

fn consume(q: mp_manager::QueueProxy<u32>, out: ListProxy<u32>) -> R {
    loop {
        let v = q.get()?;
        q.task_done()?;
        if v == 0 {
            return Ok(());
        }
        out.append(v)?;
    }
}

#[test]
fn joinable_queue_between_processes() {
    let manager = Manager::new().unwrap();
    let q = manager.joinable_queue::<u32>(2).unwrap();
    let out = manager.list().unwrap();
    let mut p = Process::new(consume, (q.clone(), out.clone()));
    p.start().unwrap();
    for i in [1, 2, 3, 4, 0] {
        q.put(i).unwrap();
    }
    assert!(q.join_timeout(Duration::from_secs(20)).unwrap());
    finish(&mut p);
    assert_eq!(out.to_vec().unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(
        q.get_nowait().unwrap_err().remote_kind(),
        Some(RemoteErrorKind::Empty)
    );
    q.put(1).unwrap();
    q.put(2).unwrap();
    assert!(q.full().unwrap());
    let e = q
        .put_with(3, true, Some(Duration::from_millis(50)))
        .unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Full));
    assert_eq!(q.qsize().unwrap(), 2);
    assert_eq!(q.get().unwrap(), 1);
    q.task_done().unwrap();
    q.task_done().unwrap();
    assert_eq!(
        q.task_done().unwrap_err().to_string(),
        "task_done() called too many times"
    );
}

fn wait_barrier(
    b: mp_manager::BarrierProxy,
    c: mp_manager::ConditionProxy,
    n: ValueProxy<u32>,
) -> R {
    b.wait(Some(Duration::from_secs(20)))?;
    let _g = c.lock()?;
    n.set(n.get()? + 1)?;
    c.notify_all()
}

#[test]
fn barrier_and_condition() {
    let manager = Manager::new().unwrap();
    let b = manager.barrier(3).unwrap();
    let c = manager.condition().unwrap();
    let n = manager.value(0u32).unwrap();
    let mut jobs: Vec<Process> = (0..2)
        .map(|_| Process::new(wait_barrier, (b.clone(), c.clone(), n.clone())))
        .collect();
    for p in &mut jobs {
        p.start().unwrap();
    }
    let index = b.wait(Some(Duration::from_secs(20))).unwrap();
    assert!(index < 3);
    {
        let _g = c.lock().unwrap();
        assert!(c
            .wait_for(|| n.get().unwrap() == 2, Some(Duration::from_secs(20)))
            .unwrap());
    }
    for p in &mut jobs {
        finish(p);
    }
    assert_eq!(b.parties().unwrap(), 3);
    assert_eq!(b.n_waiting().unwrap(), 0);
    // A lone waiter times out and breaks the barrier.
    let e = b.wait(Some(Duration::from_millis(50))).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::BrokenBarrier));
    assert!(b.broken().unwrap());
    b.reset().unwrap();
    assert!(!b.broken().unwrap());
    assert!(c.wait(None).is_err(), "wait without the lock is an error");
    assert!(c.notify(1).is_err());
}

#[test]
fn lookup_publish_release_and_count() {
    let manager = Manager::new().unwrap();
    let q = manager.queue::<String>(0).unwrap();
    manager.publish("jobs", &q).unwrap();
    let again: mp_manager::QueueProxy<String> = manager.lookup("jobs").unwrap();
    again.put("x".into()).unwrap();
    assert_eq!(q.get().unwrap(), "x");
    assert!(manager.lookup::<ListProxy<u8>>("jobs").is_err());
    assert!(manager.lookup::<ListProxy<u8>>("nothing").is_err());
    let n = manager.number_of_objects().unwrap();
    assert!(manager.release(&q).unwrap());
    assert_eq!(manager.number_of_objects().unwrap(), n - 1);
    let e = again.qsize().unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteErrorKind::Protocol));
}
