//! The queues' async forms (the `async` feature) under tokio (multi-thread
//! and current-thread) and smol, with the start method from
//! `MULTIPROCESS_START_METHOD`: items from a child process's blocking
//! `put` wake an async `get` and the other way round, the timeout forms,
//! a consumer killed while holding the queue (an error-free takeover,
//! never a hang), dropped futures that lose no item, `JoinableQueue`'s
//! `join_async`, and many pending gets on a few threads.
//!
//! One test in its own binary, scenarios in sequence: a child forked while
//! another test's thread holds a process-local lock could hang (see
//! `queue_deaths.rs`), and the thread count must see no other test's
//! threads.
#![cfg(feature = "async")]

use std::pin::pin;
use std::time::Duration;

use mp_channel::{GetError, JoinableQueue, PutError, Queue, SimpleQueue};
use mp_process::Process;

#[path = "../../mp-process/tests/async_support/mod.rs"]
mod async_support;
use async_support::{all, all_pending, on_every_runtime, threads};

const T: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(30);

fn produce(q: Queue<u32>, n: u32) {
    for i in 0..n {
        q.put(&i).unwrap();
    }
    q.close();
    q.join_thread().unwrap();
}

fn echo_doubled(rx: Queue<u32>, tx: SimpleQueue<u32>, n: u32) {
    for _ in 0..n {
        let v = rx.get_timeout(true, Some(T)).unwrap();
        tx.put(&(2 * v)).unwrap();
    }
}

fn work_off(q: JoinableQueue<u32>, n: u32) {
    for _ in 0..n {
        q.get_timeout(true, Some(T)).unwrap();
        q.task_done().unwrap();
    }
}

/// Waits in a blocking `get` (holding the queue's reader lock) until killed.
fn consume_forever(q: Queue<u32>, ready: SimpleQueue<u8>) {
    ready.put(&1).unwrap();
    let _ = q.get();
}

async fn across_processes() {
    let q = Queue::<u32>::new().unwrap();
    let mut p = Process::new(produce, (q.clone(), 100));
    p.start().unwrap();
    for i in 0..100 {
        assert_eq!(q.get_async().await.unwrap(), i);
    }
    assert_eq!(p.join_async().await.unwrap(), 0);

    // Async puts to a bounded queue, blocking gets in the child, replies
    // on a SimpleQueue read asynchronously.
    let (rx, tx) = (
        Queue::<u32>::bounded(2).unwrap(),
        SimpleQueue::new().unwrap(),
    );
    let mut p = Process::new(echo_doubled, (rx.clone(), tx.clone(), 50));
    p.start().unwrap();
    for i in 0..50 {
        rx.put_async(&i).await.unwrap();
    }
    for i in 0..50 {
        assert_eq!(tx.get_async().await.unwrap(), 2 * i);
    }
    assert_eq!(p.join_async().await.unwrap(), 0);
}

async fn timeouts() {
    let q = Queue::<u32>::bounded(1).unwrap();
    assert!(matches!(
        q.get_timeout_async(SHORT).await,
        Err(GetError::Empty)
    ));
    q.put_timeout_async(&1, SHORT).await.unwrap();
    assert!(matches!(
        q.put_timeout_async(&2, SHORT).await,
        Err(PutError::Full)
    ));
    assert_eq!(q.get_timeout_async(SHORT).await.unwrap(), 1);
    let s = SimpleQueue::<u32>::new().unwrap();
    assert!(matches!(
        s.get_timeout_async(SHORT).await,
        Err(GetError::Empty)
    ));
    s.put_async(&3).await.unwrap();
    assert_eq!(s.get_timeout_async(SHORT).await.unwrap(), 3);
}

async fn dead_consumer() {
    let (q, ready) = (Queue::<u32>::new().unwrap(), SimpleQueue::new().unwrap());
    let mut p = Process::new(consume_forever, (q.clone(), ready.clone()));
    p.start().unwrap();
    assert_eq!(ready.get_timeout_async(T).await.unwrap(), 1);
    let mut get = pin!(q.get_timeout_async(T));
    assert!(all_pending(&mut [get.as_mut()]).await);
    p.kill().unwrap();
    assert_eq!(p.join_async().await.unwrap(), -9);
    // The dead consumer's reader lock is taken over; the item arrives.
    q.put(&42).unwrap();
    assert_eq!(get.await.unwrap(), 42);
}

async fn dropped_futures_lose_nothing() {
    let q = Queue::<u32>::new().unwrap();
    {
        let mut get = pin!(q.get_async());
        assert!(all_pending(&mut [get.as_mut()]).await);
        // The item arrives while the future is pending, which is then
        // dropped without being polled again.
        q.put(&7).unwrap();
    }
    assert_eq!(q.get_timeout(true, Some(T)).unwrap(), 7, "the item stayed");

    let b = Queue::<u32>::bounded(1).unwrap();
    b.put(&1).unwrap();
    {
        let mut put = pin!(b.put_async(&2));
        assert!(all_pending(&mut [put.as_mut()]).await);
    }
    assert_eq!(b.get_timeout(true, Some(T)).unwrap(), 1);
    assert!(
        matches!(b.get_nowait(), Err(GetError::Empty)),
        "2 was never put"
    );
}

async fn joinable() {
    let q = JoinableQueue::<u32>::new().unwrap();
    for i in 0..20 {
        q.put_async(&i).await.unwrap();
    }
    assert!(!q.join_timeout_async(SHORT).await);
    let mut p = Process::new(work_off, (q.clone(), 20));
    p.start().unwrap();
    q.join_async().await;
    assert!(q.join_timeout_async(SHORT).await);
    assert_eq!(p.join_async().await.unwrap(), 0);
}

async fn many_pending() {
    const PENDING: usize = 1000;
    let q = Queue::<u32>::new().unwrap();
    let before = threads();
    let mut gets: Vec<_> = (0..PENDING).map(|_| Box::pin(q.get_async())).collect();
    let mut polled: Vec<_> = gets.iter_mut().map(|f| f.as_mut()).collect();
    assert!(all_pending(&mut polled).await);
    let during = threads();
    assert!(
        during <= before + 2,
        "{PENDING} pending gets: {before} threads before, {during} during"
    );
    for i in 0..PENDING as u32 {
        q.put(&i).unwrap();
    }
    let mut got: Vec<u32> = all(gets).await.into_iter().map(Result::unwrap).collect();
    got.sort_unstable();
    assert_eq!(got, (0..PENDING as u32).collect::<Vec<_>>());
}

/// Tasks spawned on a tokio multi-thread runtime (so the futures must be
/// `Send`, and wake-ups cross threads): four producers and four consumers
/// through a bounded queue, every item got exactly once.
fn spawned_on_tokio_multi_thread() {
    const EACH: u32 = 250;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let q = Queue::<u32>::bounded(4).unwrap();
    let got: Vec<u32> = rt.block_on(async {
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..EACH {
                        got.push(q.get_async().await.unwrap());
                    }
                    got
                })
            })
            .collect();
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let q = q.clone();
                tokio::spawn(async move {
                    for i in 0..EACH {
                        q.put_async(&(p * EACH + i)).await.unwrap();
                    }
                })
            })
            .collect();
        for p in producers {
            p.await.unwrap();
        }
        let mut got = Vec::new();
        for c in consumers {
            got.extend(c.await.unwrap());
        }
        got
    });
    let mut got = got;
    got.sort_unstable();
    assert_eq!(got, (0..4 * EACH).collect::<Vec<_>>());
}

#[test]
fn queue_async_on_every_runtime() {
    spawned_on_tokio_multi_thread();
    on_every_runtime(|| async {
        across_processes().await;
        timeouts().await;
        dead_consumer().await;
        dropped_futures_lose_nothing().await;
        joinable().await;
        many_pending().await;
    });
}
