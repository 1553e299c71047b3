//! A custom type registered with a manager (Python's
//! `BaseManager.register`), with a hand-written `Shared` impl and proxy,
//! used from a child process.

mod common;

use mp_manager::__private::{args, no_method, ret, RemoteError};
use mp_manager::{BaseProxy, Manager, ManagerError, Proxy, Shared};
use mp_process::Process;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
struct Counter {
    n: i64,
}

impl Counter {
    fn add(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }
}

struct CounterProxy(BaseProxy);

impl Serialize for CounterProxy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CounterProxy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BaseProxy::deserialize(d).map(CounterProxy)
    }
}

impl Proxy for CounterProxy {
    const TYPEID: &'static str = "Counter";
    fn from_base(base: BaseProxy) -> Self {
        CounterProxy(base)
    }
    fn base(&self) -> &BaseProxy {
        &self.0
    }
}

impl CounterProxy {
    fn add(&self, by: i64) -> Result<i64, ManagerError> {
        self.0.call("add", &(by,))
    }
}

impl Shared for Counter {
    const TYPEID: &'static str = "Counter";
    type Proxy = CounterProxy;
    fn dispatch(&mut self, method: &str, a: &[u8]) -> Result<Vec<u8>, RemoteError> {
        match method {
            "add" => {
                let (by,): (i64,) = args(a, method)?;
                ret(&self.add(by))
            }
            other => Err(no_method(Self::TYPEID, other)),
        }
    }
}

fn bump(c: CounterProxy) -> Result<(), ManagerError> {
    c.add(10).map(drop)
}

#[test]
fn registered_type_is_shared_with_children() {
    let manager = Manager::builder().register::<Counter>().start().unwrap();
    let c = manager.create(Counter { n: 1 }).unwrap();
    common::run(Process::new(bump, (c.clone_proxy(),)));
    assert_eq!(c.add(0).unwrap(), 11);
    assert!(c.0.call::<_, ()>("secret", &()).is_err());

    // A manager without the registration refuses the type.
    let plain = Manager::new().unwrap();
    assert!(plain.create(Counter { n: 0 }).is_err());
}

impl CounterProxy {
    fn clone_proxy(&self) -> CounterProxy {
        CounterProxy(self.0.clone())
    }
}
