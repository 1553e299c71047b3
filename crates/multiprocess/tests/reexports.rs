//! The facade's public list, module by module (crossbeam's `tests/subcrates.rs`): every
//! listed name must resolve through `multiprocess` (this file compiles only if it does), and
//! the `pub use` lists of `src/lib.rs` must be exactly these names — no glob, no plumbing that
//! a sub-crate made public only for a sibling (`wire::frame::check_header`,
//! `pool::EncodedJob`, `managers::Result`). Changing the facade's surface means changing this
//! list, on purpose.

use std::collections::BTreeMap;

/// Imports the names from the module (so each must resolve) and returns them as strings.
macro_rules! listed {
    ($($seg:ident)::+ : $($name:ident),* $(,)?) => {{
        #[allow(unused_imports)]
        use $($seg)::+::{$($name),*};
        (stringify!($($seg)::+), &[$(stringify!($name)),*][..])
    }};
}

/// What the facade re-exports with every feature on (the default), keyed by module path.
fn expected() -> Vec<(&'static str, &'static [&'static str])> {
    let mut lists = vec![
        // Behind the `async` feature: resolved only with it, listed always
        // (the check below reads `src/lib.rs` as text).
        #[cfg(feature = "async")]
        listed!(multiprocess::connection: wait_async),
        #[cfg(not(feature = "async"))]
        ("multiprocess::connection", &["wait_async"][..]),
        // Behind the `mpi` feature (off by default: it needs an MPI library).
        #[cfg(feature = "mpi")]
        listed!(multiprocess::mpi: is_mpi_root, mpi_workers, Pool, PoolBuilder, SPAWN_ENV),
        #[cfg(not(feature = "mpi"))]
        (
            "multiprocess::mpi",
            &[
                "is_mpi_root",
                "mpi_workers",
                "Pool",
                "PoolBuilder",
                "SPAWN_ENV",
            ][..],
        ),
    ];
    lists.extend(vec![
        listed!(multiprocess:
            // mp-process
            active_children, cpu_count, current_process, exit, get_all_start_methods,
            get_context, get_logger, get_start_method, log_to_stderr, parent_process,
            process_cpu_count, set_current_process_authkey, set_current_process_daemon,
            set_current_process_name, set_start_method, ActiveChild, AuthKey, CodeOnly, Context,
            CurrentProcess,
            ExitCode, Function, FunctionError, Logger, ParentProcess, Process, ProcessError, Run, StartMethod, Target,
            TargetReturn, TupleFn, CPU_COUNT_VAR, DEFAULT_START_METHOD, LOG_TARGET,
            START_METHOD_ENV,
            // mp-sync
            AcquireError, Array, ArrayGuard, Barrier, BoundedSemaphore, BrokenBarrierError,
            CharArray, Condition, ConditionError, ConditionGuard, Event, Lock, LockGuard,
            LockResult, OwnerDied, RLock, RLockGuard, ReleaseError, Semaphore, SemaphorePermit,
            StringTooLong, SyncLock, SyncLockGuard, TryAcquireError, Value, ValueGuard,
            // mp-shm
            Pod, RawArray, RawValue, Zeroable,
            // mp-channel
            pipe, wait, Connection, GetError, JoinableQueue, PutError, Queue, QueueStateError,
            RecvError, RecvIntoError, SendError, SimpleQueue, TaskDoneError, Waitable,
            // mp-pool
            AsyncResult, Callbacks, IMapIterator, Pool, PoolBuilder, PoolError, TaskError,
            ThreadPool, ThreadPoolBuilder,
            // mp-manager
            Manager, ManagerBuilder, ManagerError, RemoteError,
            // log
            LevelFilter,
            // bytemuck, for the derives of Pod and Zeroable
            bytemuck,
        ),
        listed!(multiprocess::sharedctypes: copy, synchronized, SharedCopy, Synchronize),
        listed!(multiprocess::shared_memory:
            cleanup_stale, Item, PodList, ShareableList, SharedMemory, SharedMemoryManager,
            ShmError),
        listed!(multiprocess::connection:
            answer_challenge, client, client_with_timeout, deliver_challenge, pipe, wait,
            Address, AuthenticationError, ConnectError, Connection, ExclusiveConnection, Listener,
            PyConnection, Waitable, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_HANDSHAKES,
        ),
        listed!(multiprocess::dummy: Event, Lock, LockGuard, Pool, PoolBuilder, Queue),
        listed!(multiprocess::flavor: EventLike, FlavorError, LockLike, PoolLike, QueueLike),
        listed!(multiprocess::pool:
            as_completed, default_chunksize, wait, AsCompleted, AsyncResult, Callbacks,
            IMapIterator, Pool, PoolBuilder, PoolError, ProgressUpdate, ReturnWhen, StarFn, TaskError,
            TaskOptions, ThreadPool, ThreadPoolBuilder, ThreadStarFn, Waited,
            BrokenPolicy, Executor, ExecutorBuilder, ExecutorMap, ExecutorPool, Future,
            ProcessPoolExecutor, ThreadPoolExecutor,
        ),
        listed!(multiprocess::concurrent_futures:
            as_completed, wait, AsCompleted, BrokenPolicy, Executor, ExecutorBuilder, ExecutorMap,
            ExecutorPool, Future, PoolError, ProcessPoolExecutor, ResultHandle, ReturnWhen,
            TaskError, TaskOptions, ThreadPoolExecutor, Waited,
        ),
        listed!(multiprocess::managers:
            shared, AcquireGuard, Address, ArrayProxy, AsyncResult, BarrierProxy, BaseProxy,
            BoundedSemaphoreProxy, ConditionLock, ConditionProxy, DictIter, DictProxy,
            EventProxy, JoinableQueueProxy, ListIter, ListProxy, LockProxy, ManagedIMap, Manager,
            ManagerBuilder, ManagerError, NamespaceInit, NamespaceProxy, ObjectInfo, PoolProxy,
            Proxy, QueueProxy, RLockProxy,
            Registration, Registry, RemoteError, RemoteErrorKind, SemaphoreProxy, SetProxy,
            Shared, ValueProxy, __private,
        ),
        listed!(multiprocess::wire:
            decode, decode_with_limits, encode, recv, recv_value, send, send_timeout,
            send_value, serde_bytes, DecodeError, EncodeError, Limits, Message, SharedFd,
            WireError, MAX_FDS_PER_FRAME,
        ),
    ]);
    lists
}

/// The names each module of `src` re-exports with `pub use`, keyed by module path
/// (`multiprocess`, `multiprocess::pool`, ...); a glob is kept as the name `*`.
fn reexports_in(src: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut module = "multiprocess".to_owned();
    let mut statement: Option<String> = None;
    for line in src.lines() {
        let code = line.split("//").next().unwrap_or("").trim();
        if let Some(name) = code
            .strip_prefix("pub mod ")
            .and_then(|r| r.strip_suffix(" {"))
        {
            module = format!("multiprocess::{name}");
            continue;
        }
        if line == "}" {
            module = "multiprocess".to_owned();
            continue;
        }
        if statement.is_none() && code.starts_with("pub use ") {
            statement = Some(String::new());
        }
        let Some(text) = statement.as_mut() else {
            continue;
        };
        text.push_str(code);
        text.push(' ');
        if !code.ends_with(';') {
            continue;
        }
        let body = text
            .trim()
            .trim_start_matches("pub use ")
            .trim_end_matches(';');
        // `a::b::{x, y as z}` or `a::b::x` or `a::b as x`: the names after the last `::`.
        let items = match body.find('{') {
            Some(open) => body[open + 1..].trim_end_matches('}').to_owned(),
            None => body.rsplit("::").next().unwrap_or(body).to_owned(),
        };
        let names = out.entry(module.clone()).or_default();
        for item in items.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let public = item.rsplit(" as ").next().unwrap_or(item).trim();
            names.push(public.to_owned());
        }
        statement = None;
    }
    out
}

#[test]
fn reexports_in_reads_every_form() {
    let src = "pub use a::{x, y as z};\npub use a::b::W;\n#[doc(hidden)]\n\
               pub mod m {\n    pub use c::{\n        p, q,\n    };\n    pub use d::*;\n}\n\
               pub use e::f as G;\n";
    let got = reexports_in(src);
    assert_eq!(got["multiprocess"], ["x", "z", "W", "G"]);
    assert_eq!(got["multiprocess::m"], ["p", "q", "*"]);
}

#[test]
fn lib_rs_reexports_exactly_the_list() {
    let src = include_str!("../src/lib.rs");
    let mut found = reexports_in(src);
    for list in found.values_mut() {
        list.sort();
    }
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (module, names) in expected() {
        let list = want.entry(module.replace(' ', "")).or_default();
        list.extend(names.iter().map(|n| (*n).to_owned()));
        list.sort();
    }
    for (module, names) in &found {
        assert!(
            !names.iter().any(|n| n == "*"),
            "{module} re-exports with a glob: name the items"
        );
    }
    assert_eq!(
        found, want,
        "the facade's re-exports changed: update this list on purpose"
    );
}

/// The paths `docs/python-api-map.md` names: each `multiprocess::...` path, cut after its
/// module and item (`multiprocess::connection::Listener::bind` → `connection`, `Listener`), and
/// each `mp_manager::Item` (section (e) says those are `multiprocess::managers::Item`).
fn api_map_paths(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (start, _) in doc
        .match_indices("multiprocess::")
        .chain(doc.match_indices("mp_manager::"))
    {
        if doc[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // inside a longer name
        }
        let tail = &doc[start..];
        let end = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        let segments: Vec<&str> = tail[..end].trim_end_matches(':').split("::").collect();
        let (module, item) = match segments[..] {
            ["mp_manager", item, ..] => ("managers", item),
            [_, module, item, ..] if module.starts_with(char::is_lowercase) => (module, item),
            [_, item, ..] => ("", item),
            _ => continue,
        };
        out.push((module.to_owned(), item.to_owned()));
    }
    out
}

#[test]
fn api_map_paths_reads_what_the_map_writes() {
    let doc = "`multiprocess::connection::Listener::bind(a)`, `multiprocess::Lock::new()`,\n\
               `mp_manager::shared`; `multiprocess::pipe(duplex)`; `multiprocess::wire`, \
               not_multiprocess::Lock";
    let got = api_map_paths(doc);
    let want = [
        ("connection", "Listener"),
        ("", "Lock"),
        ("", "pipe"),
        ("", "wire"),
        ("managers", "shared"),
    ];
    assert_eq!(got, want.map(|(m, i)| (m.to_owned(), i.to_owned())));
}

#[test]
fn api_map_names_only_what_the_facade_exports() {
    let doc = include_str!("../../../docs/python-api-map.md");
    let found = reexports_in(include_str!("../src/lib.rs"));
    let modules: Vec<&str> = found
        .keys()
        .filter_map(|m| m.strip_prefix("multiprocess::"))
        .collect();
    let paths = api_map_paths(doc);
    assert!(paths.len() > 50, "the map names the facade's paths");
    let wrong: Vec<String> = paths
        .iter()
        .filter(|(module, item)| {
            let list = if module.is_empty() {
                "multiprocess".to_owned()
            } else {
                format!("multiprocess::{module}")
            };
            let exported = found.get(&list).is_some_and(|names| names.contains(item));
            let is_module = module.is_empty() && modules.contains(&item.as_str());
            !exported && !is_module
        })
        .map(|(module, item)| format!("{module}::{item}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "docs/python-api-map.md names paths the facade does not export: {wrong:?}"
    );
}

/// A custom manager type written against the facade alone, with the
/// `crate = ..` override that still works (`tests/ui-pass` has the form
/// without it).
mod custom {
    use serde::{Deserialize, Serialize};

    /// A counter kept in the manager's server.
    #[derive(Serialize, Deserialize)]
    pub(crate) struct Counter {
        pub(crate) n: i64,
    }

    #[multiprocess::managers::shared(crate = multiprocess::managers, vis = pub(crate))]
    impl Counter {
        /// Adds `by`; returns the new count.
        pub(crate) fn add(&mut self, by: i64) -> i64 {
            self.n += by;
            self.n
        }
    }
}

#[test]
fn a_custom_manager_type_through_the_facade() -> Result<(), multiprocess::ManagerError> {
    let manager = multiprocess::Manager::builder()
        .register::<custom::Counter>()
        .start()?;
    let c: custom::CounterProxy = manager.create(custom::Counter { n: 1 })?;
    assert_eq!(c.add(2)?, 3);
    assert_eq!(c.add(-5)?, -2);
    Ok(())
}

#[test]
fn wire_errors_name_their_cause_through_the_facade() {
    use multiprocess::wire::{decode_with_limits, encode, DecodeError, EncodeError, Limits};
    let shallow = Limits {
        max_depth: 1,
        ..Limits::default()
    };
    let msg = encode(&vec![vec![1u8]]).unwrap();
    let err = decode_with_limits::<Vec<Vec<u8>>>(msg, &shallow).unwrap_err();
    assert!(matches!(err, DecodeError::TooDeep { limit: 1 }), "{err:?}");

    struct Refuses;
    impl serde::Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused by its own impl"))
        }
    }
    let err = encode(&Refuses).unwrap_err();
    assert!(matches!(&err, EncodeError::Custom(t) if t == "refused by its own impl"));
}
