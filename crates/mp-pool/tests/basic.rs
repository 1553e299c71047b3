//! Results and their order: map, map_chunked, starmap, apply, imap,
//! imap_unordered; argument checks; Python's repr.

mod common;
use common::deadline;
use mp_pool::{Pool, PoolError};

fn double(x: u64) -> u64 {
    x * 2
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// Later items finish first: item i sleeps (n - i) ms.
fn slow_first(i: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(20 * (5 - i.min(5))));
    i
}

#[test]
fn map_keeps_input_order() {
    deadline(60, "map", || {
        let pool = Pool::with_processes(2).unwrap();
        let out = pool.map(double, 0..1000u64).unwrap();
        assert_eq!(out, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
        let out = pool.map_chunked(slow_first, 0..6u64, 1).unwrap();
        assert_eq!(out, vec![0, 1, 2, 3, 4, 5]);
        let out: Vec<u64> = pool.map(double, Vec::<u64>::new()).unwrap();
        assert!(out.is_empty());
        let big: Vec<String> = pool
            .map(|n: usize| "x".repeat(n), vec![100_000, 3])
            .unwrap();
        assert_eq!((big[0].len(), big[1].as_str()), (100_000, "xxx"));
    });
}

#[test]
fn starmap_and_apply() {
    deadline(60, "starmap/apply", || {
        let pool = Pool::with_processes(2).unwrap();
        let out = pool.starmap(add, vec![(1, 2), (3, 4), (5, 6)]).unwrap();
        assert_eq!(out, vec![3, 7, 11]);
        assert_eq!(pool.apply(add, (20, 22)).unwrap(), 42);
        assert_eq!(pool.apply(|| "none".to_string(), ()).unwrap(), "none");
        let rs: Vec<_> = (0..10u64)
            .map(|i| pool.apply_async(double, (i,)).unwrap())
            .collect();
        let got: Vec<u64> = rs.into_iter().map(|r| r.get().unwrap()).collect();
        assert_eq!(got, (0..10).map(|x| x * 2).collect::<Vec<_>>());
    });
}

/// One-tuples of numbers (an `apply`'s usual arguments) travel as their
/// numbers' bytes: every width and sign, floats, results that are
/// one-tuples, and chunks of several (a `starmap`).
#[test]
fn one_tuples_of_numbers_round_trip() {
    deadline(60, "one-tuples", || {
        let pool = Pool::with_processes(2).unwrap();
        assert_eq!(pool.apply(|x: u8| x ^ 0xFF, (0x0Fu8,)).unwrap(), 0xF0);
        assert_eq!(pool.apply(|x: i16| -x, (i16::MAX,)).unwrap(), -i16::MAX);
        assert_eq!(
            pool.apply(|x: i128| x / 2, (i128::MIN,)).unwrap(),
            i128::MIN / 2
        );
        assert_eq!(pool.apply(|x: usize| x, (usize::MAX,)).unwrap(), usize::MAX);
        let f = pool.apply(|x: f32| x * 2.0, (-1.25f32,)).unwrap();
        assert_eq!(f.to_bits(), (-2.5f32).to_bits());
        let nan = pool.apply(|x: f64| x, (f64::NAN,)).unwrap();
        assert_eq!(nan.to_bits(), f64::NAN.to_bits());
        let r = pool.apply_async(|x: u32| (x + 1,), (41u32,)).unwrap();
        assert_eq!(r.get().unwrap(), (42,));
        let args: Vec<(i64,)> = (-500..500).map(|i| (i * 3,)).collect();
        let out = pool.starmap(|x: i64| x - 1, args).unwrap();
        assert_eq!(out, (-500..500).map(|i| i * 3 - 1).collect::<Vec<i64>>());
    });
}

#[test]
fn imap_yields_in_order_and_unordered_yields_everything() {
    deadline(60, "imap", || {
        let pool = Pool::with_processes(2).unwrap();
        let got: Vec<u64> = pool
            .imap(slow_first, 0..6u64)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
        let got: Vec<u64> = pool
            .imap_chunked(double, 0..100u64, 7)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, (0..100).map(|x| x * 2).collect::<Vec<_>>());
        let mut got: Vec<u64> = pool
            .imap_unordered(double, 0..500u64)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        got.sort();
        assert_eq!(got, (0..500).map(|x| x * 2).collect::<Vec<_>>());
        let mut got: Vec<u64> = pool
            .imap_unordered_chunked(double, 0..50u64, 4)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        got.sort();
        assert_eq!(got, (0..50).map(|x| x * 2).collect::<Vec<_>>());
        assert!(pool
            .imap(double, Vec::<u64>::new())
            .unwrap()
            .next()
            .is_none());
    });
}

#[test]
fn imap_unordered_gives_completion_order() {
    deadline(60, "imap_unordered order", || {
        // One worker runs items in order; with two, the fast ones overtake.
        let pool = Pool::with_processes(2).unwrap();
        let got: Vec<u64> = pool
            .imap_unordered(
                |i: u64| {
                    std::thread::sleep(std::time::Duration::from_millis(if i == 0 {
                        500
                    } else {
                        1
                    }));
                    i
                },
                0..4u64,
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.last(), Some(&0), "{got:?}");
    });
}

/// An argument whose encoding fails.
#[derive(serde::Deserialize)]
struct Refused;

impl serde::Serialize for Refused {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refused"))
    }
}

fn take_refused(_: Refused) -> u64 {
    0
}

#[test]
fn an_argument_that_cannot_be_encoded_fails_the_call() {
    deadline(60, "encode", || {
        let pool = Pool::with_processes(1).unwrap();
        let e = pool.apply_async(take_refused, (Refused,)).err();
        assert!(matches!(e, Some(PoolError::Encode(_))), "{e:?}");
        assert_eq!(pool.apply(double, (4,)).unwrap(), 8, "the pool carries on");
    });
}

#[test]
fn arguments_and_states_are_checked() {
    deadline(60, "checks", || {
        assert!(matches!(
            Pool::with_processes(0),
            Err(PoolError::InvalidArgument(_))
        ));
        let e = Pool::builder().maxtasksperchild(0).build().unwrap_err();
        assert_eq!(
            e.to_string(),
            "maxtasksperchild must be a positive int or None"
        );
        let pool = Pool::with_processes(1).unwrap();
        assert_eq!(
            pool.to_string(),
            "<multiprocessing.pool.Pool state=RUN pool_size=1>"
        );
        let e = pool.imap_chunked(double, 0..3u64, 0).unwrap_err();
        assert_eq!(e.to_string(), "chunksize must be 1+, not 0");
        assert!(matches!(pool.join(), Err(PoolError::StillRunning)));
        pool.close();
        assert_eq!(
            pool.to_string(),
            "<multiprocessing.pool.Pool state=CLOSE pool_size=1>"
        );
        assert!(matches!(
            pool.map(double, 0..3u64),
            Err(PoolError::NotRunning)
        ));
        assert!(matches!(
            pool.apply_async(double, (1,)),
            Err(PoolError::NotRunning)
        ));
        // Not running comes first, before the arguments are looked at.
        assert!(matches!(
            pool.apply_async(take_refused, (Refused,)),
            Err(PoolError::NotRunning)
        ));
        assert!(pool
            .join_timeout(std::time::Duration::from_secs(20))
            .unwrap());
    });
}
