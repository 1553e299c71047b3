//! Proxy calls as futures (the `async` feature) under tokio (multi-thread
//! and current-thread) and smol, the server and a child started with the
//! method from `MULTIPROCESS_START_METHOD`: calls and replies, a call that
//! blocks in the server (an event's `wait`) blocks no thread here and is
//! released by a child process, and a killed server fails a pending call
//! and later ones with `ServerGone`, never a hang.
#![cfg(feature = "async")]

use std::pin::pin;

use mp_manager::{EventProxy, Manager, ManagerError, Proxy};
use mp_process::Process;

#[path = "../../mp-process/tests/async_support/mod.rs"]
mod async_support;
use async_support::{all_pending, on_every_runtime};

fn set_event(ev: EventProxy) -> Result<(), ManagerError> {
    ev.set()
}

async fn scenario() {
    let manager = Manager::new().unwrap();
    let d = manager.dict::<String, u32>().unwrap();
    d.set("a".to_string(), 1).unwrap();
    let n: u64 = d.base().call_async("__len__", &()).await.unwrap();
    assert_eq!(n, 1);

    // A wait inside the server, released by another process.
    let ev = manager.event().unwrap();
    let mut wait = pin!(ev
        .base()
        .call_async::<_, bool>("wait", &None::<std::time::Duration>));
    assert!(all_pending(&mut [wait.as_mut()]).await);
    let mut p = Process::new(set_event, (ev.clone(),));
    p.start().unwrap();
    assert!(wait.await.unwrap());
    assert_eq!(p.join_async().await.unwrap(), 0);

    // A server killed while a call waits in it.
    ev.clear().unwrap();
    let mut wait = pin!(ev
        .base()
        .call_async::<_, bool>("wait", &None::<std::time::Duration>));
    assert!(all_pending(&mut [wait.as_mut()]).await);
    manager.process().unwrap().kill().unwrap();
    let e = wait.await.unwrap_err();
    assert!(e.is_server_gone(), "{e}");
    let e = d
        .base()
        .call_async::<_, u64>("__len__", &())
        .await
        .unwrap_err();
    assert!(e.is_server_gone(), "{e}");
}

#[test]
fn proxy_async_on_every_runtime() {
    on_every_runtime(scenario);
}
