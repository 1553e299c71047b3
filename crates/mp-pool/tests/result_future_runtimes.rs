//! One pool's results awaited under one runtime after another — tokio
//! multi-thread, tokio current-thread, smol, then runtimes made after others
//! were dropped — so the registration a worker keeps with a reactor (with
//! the feature `mp-sys/tokio`, tokio's own when awaited inside tokio) is
//! never used with a runtime it does not belong to. One worker: every
//! result comes through the same kept registration.
#![cfg(feature = "async")]

use std::future::IntoFuture;

use mp_pool::Pool;

fn square(x: u64) -> u64 {
    x * x
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn one_pool_awaited_under_runtime_after_runtime() {
    let pool = Pool::with_processes(1).unwrap();
    let awaited = |rt: &tokio::runtime::Runtime, x: u64| {
        rt.block_on(pool.apply_async(square, (x,)).unwrap().into_future())
            .unwrap()
    };
    let multi = multi_thread();
    let current = current_thread();
    for x in 0..4 {
        assert_eq!(awaited(&multi, x), x * x);
        assert_eq!(awaited(&current, x + 10), (x + 10) * (x + 10));
        let y = x + 20;
        let got = smol::block_on(pool.apply_async(square, (y,)).unwrap().into_future());
        assert_eq!(got.unwrap(), y * y);
    }
    // Runtimes gone: the registrations they held are stale, never used.
    drop(current);
    let later = current_thread();
    assert_eq!(awaited(&later, 5), 25);
    drop(multi);
    assert_eq!(awaited(&later, 6), 36);
    let last = multi_thread();
    drop(later);
    assert_eq!(awaited(&last, 7), 49);
    let got = smol::block_on(pool.apply_async(square, (8,)).unwrap().into_future());
    assert_eq!(got.unwrap(), 64);
    pool.close();
    pool.join().unwrap();
}
