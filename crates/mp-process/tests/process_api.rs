//! Python's `Process` API (cpython-inventory §(a)) under the start method
//! chosen by `MULTIPROCESS_START_METHOD` (test-all runs this file once per method).

mod common;

use std::time::{Duration, Instant};

use common::{pid_alive, report, reports};
use mp_process::{active_children, current_process, parent_process, Process, ProcessError, Run};
use mp_wire::SharedFd;
use serde::{Deserialize, Serialize};

fn noop() {}

fn sleeper(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn exit_with(code: i32) {
    mp_process::exit(code);
}

fn panics() {
    panic!("boom in child");
}

fn returns_value() -> i32 {
    42
}

fn returns_err() -> Result<(), String> {
    Err("bad".to_string())
}

#[test]
fn exit_codes() {
    let cases: Vec<(Process, i32)> = vec![
        (Process::new(noop, ()), 0),
        (Process::new(returns_value, ()), 0),
        (Process::new(exit_with, (3,)), 3),
        (Process::new(exit_with, (256,)), 0),
        (Process::new(panics, ()), 1),
        (Process::new(returns_err, ()), 1),
    ];
    for (mut p, want) in cases {
        p.start().unwrap();
        p.join().unwrap();
        assert_eq!(p.exitcode(), Some(want), "{p}");
        assert!(!p.is_alive());
    }
}

#[test]
fn terminate_and_kill_give_minus_signal() {
    let mut t = Process::new(sleeper, (10_000,));
    let mut k = Process::new(sleeper, (10_000,));
    t.start().unwrap();
    k.start().unwrap();
    assert!(t.is_alive() && k.is_alive());
    t.terminate().unwrap();
    k.kill().unwrap();
    t.join().unwrap();
    k.join().unwrap();
    assert_eq!(t.exitcode(), Some(-15));
    assert_eq!(k.exitcode(), Some(-9));
    assert!(t.to_string().contains("exitcode=-SIGTERM"), "{t}");
    assert!(k.to_string().contains("exitcode=-SIGKILL"), "{k}");
    // Signalling a finished process is a no-op.
    t.terminate().unwrap();
}

#[test]
fn join_timeout_returns_while_child_lives() {
    let mut p = Process::new(sleeper, (5_000,));
    p.start().unwrap();
    let started = Instant::now();
    p.join_timeout(Duration::from_millis(300)).unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(290), "{waited:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    assert!(p.is_alive());
    assert_eq!(p.exitcode(), None);
    assert!(matches!(p.close(), Err(ProcessError::StillRunning)));
    p.kill().unwrap();
    p.join().unwrap();
    p.close().unwrap();
    assert!(matches!(p.join(), Err(ProcessError::Closed)));
    assert!(p.to_string().ends_with("closed>"), "{p}");
}

#[test]
fn misuse_is_a_typed_error() {
    let mut p = Process::new(noop, ());
    assert!(matches!(p.join(), Err(ProcessError::NotStarted(_))));
    assert!(matches!(p.sentinel(), Err(ProcessError::NotStarted(_))));
    assert!(matches!(p.kill(), Err(ProcessError::NotStarted(_))));
    p.start().unwrap();
    assert!(matches!(p.start(), Err(ProcessError::AlreadyStarted)));
    assert!(matches!(
        p.set_daemon(true),
        Err(ProcessError::StartedAlready)
    ));
    p.join().unwrap();
    assert!(matches!(p.start(), Err(ProcessError::AlreadyStarted)));
}

fn daemon_tries_children(out: SharedFd) {
    let mut c = Process::new(noop, ());
    let r = c.start();
    // Python's `current_process().daemon = False` lifts the rule.
    mp_process::set_current_process_daemon(false);
    let mut c = Process::new(noop, ());
    let started = c.start().is_ok() && c.join().is_ok() && c.exitcode() == Some(0);
    report(
        &out,
        &format!(
            "{} {started}",
            matches!(r, Err(ProcessError::DaemonicChildren))
        ),
    );
}

#[test]
fn daemonic_process_cannot_have_children_until_it_clears_its_flag() {
    let (reports, w) = reports();
    let mut p = Process::new(daemon_tries_children, (w,)).daemon(true);
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    drop(p);
    assert_eq!(reports.take(1), vec!["true true"]);
}

fn describe_self(out: SharedFd) {
    let me = current_process();
    let parent = parent_process().expect("a child has a parent");
    report(&out, &format!("name={}", me.name()));
    report(&out, &format!("pid={}", me.pid()));
    report(&out, &format!("parent={} {}", parent.name(), parent.pid()));
    report(&out, &format!("parent_alive={}", parent.is_alive()));
    report(
        &out,
        &format!("parent_sentinel={}", parent.sentinel().is_some()),
    );
    report(&out, &format!("authkey={}", me.authkey().len()));
    // Python gives every child /dev/null as standard input.
    let stdin = std::fs::read_link("/proc/self/fd/0").map(|p| p.display().to_string());
    report(
        &out,
        &format!("stdin={}", stdin.unwrap_or_else(|e| e.to_string())),
    );
    let mut nested = Process::new(noop, ());
    report(&out, &format!("nested={}", nested.get_name()));
    nested.start().unwrap();
    nested.join().unwrap();
    report(&out, &format!("nested_exit={:?}", nested.exitcode()));
}

#[test]
fn child_knows_itself_and_its_parent() {
    let (reports, w) = reports();
    let mut p = Process::new(describe_self, (w,)).name("Custom");
    let id = p.identity()[0];
    p.start().unwrap();
    let pid = p.pid().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    drop(p);
    let lines = reports.take(9);
    let me = current_process();
    assert_eq!(
        lines,
        vec![
            "name=Custom".to_string(),
            format!("pid={pid}"),
            format!("parent={} {}", me.name(), me.pid()),
            "parent_alive=true".to_string(),
            "parent_sentinel=true".to_string(),
            "authkey=32".to_string(),
            "stdin=/dev/null".to_string(),
            format!("nested=Process-{id}:1"),
            "nested_exit=Some(0)".to_string(),
        ]
    );
}

#[derive(Serialize, Deserialize)]
struct Worker {
    out: SharedFd,
    greeting: String,
}

impl Run for Worker {
    fn run(&mut self) {
        report(
            &self.out,
            &format!("{} {}", self.greeting, current_process().name()),
        );
    }
}

#[test]
fn run_trait_process_is_named_after_its_type() {
    let (reports, w) = reports();
    let mut p = Process::from_run(Worker {
        out: w,
        greeting: "In".into(),
    });
    assert!(p.get_name().starts_with("Worker-"), "{}", p.get_name());
    let name = p.get_name().to_string();
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    drop(p);
    assert_eq!(reports.take(1), vec![format!("In {name}")]);
}

#[test]
fn active_children_lists_running_children() {
    let mut ps: Vec<Process> = (0..3).map(|_| Process::new(sleeper, (3_000,))).collect();
    for p in &mut ps {
        p.start().unwrap();
    }
    let pids: Vec<u32> = ps.iter().map(|p| p.pid().unwrap()).collect();
    let active: Vec<u32> = active_children().iter().map(|c| c.pid()).collect();
    for pid in &pids {
        assert!(active.contains(pid), "{pid} not in {active:?}");
    }
    for p in &mut ps {
        p.kill().unwrap();
        p.join().unwrap();
    }
    let active: Vec<u32> = active_children().iter().map(|c| c.pid()).collect();
    for pid in &pids {
        assert!(!active.contains(pid));
        assert!(!pid_alive(*pid));
    }
}

#[test]
fn sentinel_becomes_readable_at_exit() {
    let mut p = Process::new(sleeper, (200,));
    p.start().unwrap();
    let ready = mp_sys::socket::poll_readable(p.sentinel().unwrap(), Some(Duration::ZERO)).unwrap();
    assert!(!ready);
    let ready = mp_sys::socket::poll_readable(p.sentinel().unwrap(), Some(Duration::from_secs(10)))
        .unwrap();
    assert!(ready);
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

#[test]
fn empty_process_runs_nothing() {
    let mut p = Process::empty().name("MyProcess");
    assert_eq!(p.get_name(), "MyProcess");
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}

fn spawn_daemon_and_leave(out: SharedFd) {
    let mut d = Process::new(sleeper, (60_000,)).daemon(true);
    d.start().unwrap();
    report(&out, &d.pid().unwrap().to_string());
    // Return without joining: exit clean-up must terminate the daemon.
}

#[test]
fn daemon_children_are_terminated_when_their_parent_exits() {
    let (reports, w) = reports();
    let mut p = Process::new(spawn_daemon_and_leave, (w,));
    p.start().unwrap();
    let started = Instant::now();
    p.join_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(p);
    let lines = reports.take(1);
    let daemon: u32 = lines[0].parse().unwrap();
    // The daemon was terminated and reaped by its parent's exit clean-up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(daemon) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_alive(daemon), "daemon {daemon} outlived its parent");
}

fn spawn_worker_and_leave(out: SharedFd) {
    let mut c = Process::new(sleeper, (500,));
    c.start().unwrap();
    report(&out, "started");
    // Not joined: the exit clean-up joins it, so this process lives >= 0.5 s.
}

#[test]
fn non_daemon_children_are_joined_at_exit() {
    let (reports, w) = reports();
    let mut p = Process::new(spawn_worker_and_leave, (w,));
    let started = Instant::now();
    p.start().unwrap();
    p.join().unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(p.exitcode(), Some(0));
    drop(p);
    assert_eq!(reports.take(1), vec!["started"]);
}

fn big_args(data: Vec<u8>, out: SharedFd) {
    let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    report(&out, &format!("{} {sum}", data.len()));
}

#[test]
fn large_arguments_arrive_intact() {
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    let (reports, w) = reports();
    let mut p = Process::new(big_args, (data, w));
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    drop(p);
    assert_eq!(reports.take(1), vec![format!("4000000 {sum}")]);
}

fn report_authkey(out: SharedFd) {
    let key = current_process().authkey().to_vec();
    report(&out, &String::from_utf8_lossy(&key));
    // A grandchild inherits its parent's key.
    let mut nested = Process::new(report_nested_authkey, (out,));
    nested.start().unwrap();
    nested.join().unwrap();
}

fn report_nested_authkey(out: SharedFd) {
    report(
        &out,
        &format!(
            "nested {}",
            String::from_utf8_lossy(current_process().authkey())
        ),
    );
}

#[test]
fn a_process_can_be_given_its_own_authkey() {
    let (reports, w) = reports();
    let mut p = Process::new(report_authkey, (w,)).authkey(b"first".to_vec());
    assert_eq!(p.get_authkey(), b"first");
    p.set_authkey(b"per-child key".to_vec()).unwrap();
    assert_eq!(p.get_authkey(), b"per-child key");
    // Without one, a Process reports the creating process's key.
    assert_eq!(
        Process::new(noop, ()).get_authkey(),
        current_process().authkey()
    );
    p.start().unwrap();
    assert!(matches!(
        p.set_authkey(b"late".to_vec()),
        Err(ProcessError::StartedAlready)
    ));
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    drop(p);
    assert_eq!(
        reports.take(2),
        vec![
            "per-child key".to_string(),
            "nested per-child key".to_string()
        ]
    );
    // The parent's own key is untouched.
    assert_eq!(current_process().authkey().len(), 32);
}
