//! The resource tracker: names whose creator was killed are unlinked (under
//! fork, spawn and forkserver), a normal exit leaves no warning, the tracker
//! ends with its last client, and a dead tracker breaks nothing.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use mp_process::{Process, StartMethod};
use mp_shm::SharedMemory;

const METHODS: [StartMethod; 3] = [
    StartMethod::Fork,
    StartMethod::Spawn,
    StartMethod::ForkServer,
];
/// Generous: the assertion is that it happens, not how fast.
const PATIENCE: Duration = Duration::from_secs(60);
const HELPER_ENV: &str = "MP_SHM_TRACKER_HELPER";
const READY: &[u8] = b"ready";

fn exists(name: &str) -> bool {
    Path::new(mp_sys::memfd::SHM_DIR).join(name).exists()
}

/// Polls `cond` until it holds or [`PATIENCE`] runs out.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Creates `name`, marks it ready and waits to be killed.
fn create_and_wait(name: String) {
    let shm = SharedMemory::create_named(&name, 4096).unwrap();
    shm.write(0, READY).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Creates `name`, writes its tracker's pid after the ready mark, and
/// waits to be killed.
fn create_report_tracker_and_wait(name: String) {
    let shm = SharedMemory::create_named(&name, 4096).unwrap();
    let tracker = mp_shm::resource_tracker_pid().unwrap_or(0);
    shm.write(8, &tracker.to_le_bytes()).unwrap();
    shm.write(0, READY).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn a_fork_child_shares_its_parents_tracker_and_is_cleaned_up_alone() {
    let mine = SharedMemory::create(64).unwrap();
    let tracker = mp_shm::resource_tracker_pid().expect("no tracker started");
    let name = format!("mp-test-tracker-{}-shared", std::process::id());
    let mut p = Process::new(create_report_tracker_and_wait, (name.clone(),))
        .start_method(StartMethod::Fork);
    p.start().unwrap();
    let survivor = attach_when_ready(&name);
    let mut theirs = [0u8; 4];
    survivor.read(8, &mut theirs).unwrap();
    p.kill().unwrap();
    p.join().unwrap();
    let gone = eventually(|| !exists(&name));
    let _ = mp_sys::memfd::shm_unlink(&name);
    assert_eq!(
        u32::from_le_bytes(theirs),
        tracker,
        "the child has its own tracker"
    );
    assert!(gone, "{name} outlived its forked creator");
    // The tracker and the parent's own block live on.
    assert_eq!(mp_shm::resource_tracker_pid(), Some(tracker));
    assert!(exists(mine.name()));
    assert!(mp_sys::process::kill(tracker, 0).is_ok());
}

/// Creates `name` and returns, leaving the handle to the exit hook.
fn create_and_exit(name: String) {
    let shm = SharedMemory::create_named(&name, 4096).unwrap();
    shm.write(0, READY).unwrap();
    std::mem::forget(shm);
}

/// Attaches to `name` once its creator has marked it ready.
fn attach_when_ready(name: &str) -> SharedMemory {
    let mut attached = None;
    let ready = eventually(|| {
        let Ok(shm) = SharedMemory::attach(name) else {
            return false;
        };
        let mut buf = [0u8; 5];
        let ok = shm.size() == 4096 && shm.read(0, &mut buf).is_ok() && buf == READY;
        attached = Some(shm);
        ok
    });
    assert!(ready, "{name} never became ready");
    attached.unwrap()
}

fn killed_creator(signal: &str) {
    for m in METHODS {
        let name = format!("mp-test-tracker-{}-{m:?}-{signal}", std::process::id());
        let mut p = Process::new(create_and_wait, (name.clone(),)).start_method(m);
        p.start().unwrap();
        let survivor = attach_when_ready(&name);
        match signal {
            "SIGKILL" => p.kill().unwrap(),
            _ => p.terminate().unwrap(),
        }
        p.join().unwrap();
        assert!(
            p.exitcode().is_some_and(|c| c < 0),
            "{m:?}: {:?}",
            p.exitcode()
        );
        let gone = eventually(|| !exists(&name));
        let _ = mp_sys::memfd::shm_unlink(&name);
        assert!(
            gone,
            "{m:?}: {name} outlived its creator killed by {signal}"
        );
        // POSIX: a mapping outlives the name.
        let mut buf = [0u8; 5];
        survivor.read(0, &mut buf).unwrap();
        assert_eq!(&buf, READY, "{m:?}");
        survivor.write(4090, b"after").unwrap();
    }
}

#[test]
fn creator_killed_by_sigkill_loses_its_names() {
    killed_creator("SIGKILL");
}

#[test]
fn creator_killed_by_sigterm_loses_its_names() {
    killed_creator("SIGTERM");
}

#[test]
fn creator_that_returns_unlinks_its_names() {
    for m in METHODS {
        let name = format!("mp-test-tracker-{}-{m:?}-exit", std::process::id());
        let mut p = Process::new(create_and_exit, (name.clone(),)).start_method(m);
        p.start().unwrap();
        p.join().unwrap();
        let gone = !exists(&name);
        let _ = mp_sys::memfd::shm_unlink(&name);
        assert_eq!(p.exitcode(), Some(0), "{m:?}");
        assert!(gone, "{m:?}: the exit hook left {name}");
    }
}

/// Runs [`helper_process`] in a new process of this test binary, in `mode`,
/// and returns its output (which ends only when every holder of its stderr,
/// the tracker included, has ended) and the names it printed.
fn run_helper(mode: &str) -> (Output, Vec<String>) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, mode)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| Some(l.split_once("NAME=")?.1.trim().to_owned()))
        .collect();
    (out, names)
}

/// Not a test on its own: the body of the processes [`run_helper`] starts.
#[test]
fn helper_process() {
    let Ok(mode) = std::env::var(HELPER_ENV) else {
        return;
    };
    let announce = |shm: &SharedMemory| println!("NAME={}", shm.name());
    let a = SharedMemory::create(4096).unwrap();
    announce(&a);
    let tracker = mp_shm::resource_tracker_pid().expect("no tracker started");
    match mode.as_str() {
        "exit" => std::mem::forget(a),
        "kill" => {
            std::mem::forget(a);
            mp_sys::process::kill(std::process::id(), mp_sys::signal::SIGKILL).unwrap();
        }
        "kill-tracker" => {
            let pidfd = mp_sys::process::pidfd_open(tracker).unwrap();
            mp_sys::process::kill(tracker, mp_sys::signal::SIGKILL).unwrap();
            assert!(mp_sys::socket::poll_readable(&pidfd, Some(PATIENCE)).unwrap());
            // Creating goes on without it; the exit hook unlinks.
            let b = SharedMemory::create(4096).unwrap();
            announce(&b);
            let c = SharedMemory::create(4096).unwrap();
            announce(&c);
            drop(c);
            std::mem::forget((a, b));
        }
        other => panic!("unknown helper mode {other}"),
    }
}

#[test]
fn normal_exit_warns_about_nothing_and_the_tracker_ends() {
    let (out, names) = run_helper("exit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(names.len(), 1);
    assert!(!exists(&names[0]));
    assert!(!stderr.contains("resource_tracker"), "{stderr}");
}

#[test]
fn sigkill_at_exit_is_cleaned_up_with_cpythons_warning() {
    let (out, names) = run_helper("kill");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(mp_sys::signal::SIGKILL),
        "{out:?}"
    );
    assert_eq!(names.len(), 1);
    // `output()` returned, so the tracker has ended, after unlinking.
    assert!(!exists(&names[0]), "{stderr}");
    assert!(
        stderr.contains(
            "resource_tracker: There appear to be 1 leaked shared_memory objects to clean up"
        ) && stderr.contains(&names[0]),
        "{stderr}"
    );
}

#[test]
fn a_killed_tracker_falls_back_to_the_exit_hook() {
    let (out, names) = run_helper("kill-tracker");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(names.len(), 3);
    for name in &names {
        assert!(!exists(name), "{name}: {stderr}");
    }
}
