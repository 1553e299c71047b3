//! Tests of the *process* area checkers against the seed outputs of seed-programs.md and
//! against wrong outputs that must be rejected.

use super::*;

fn ok(check: Checker, out: &str) {
    if let Err(e) = check(&Observed::new(out)) {
        panic!("rejected: {e}\n{out}");
    }
}

fn bad(check: Checker, out: &str, why: &str) {
    let e = check(&Observed::new(out)).expect_err("accepted wrong output");
    assert!(e.to_string().contains(why), "wrong reason: {e}");
}

#[test]
fn simple_and_args() {
    ok(simple, "Worker\nWorker\nWorker\nWorker\nWorker\n");
    bad(simple, "Worker\nWorker\nWorker\nWorker\n", "missing");
    ok(
        simpleargs,
        "Worker: 0\nWorker: 1\nWorker: 2\nWorker: 3\nWorker: 4\n",
    );
    ok(
        simpleargs,
        "Worker: 3\nWorker: 1\nWorker: 0\nWorker: 4\nWorker: 2\n",
    );
    bad(
        simpleargs,
        "Worker: 0\nWorker: 0\nWorker: 2\nWorker: 3\nWorker: 4\n",
        "Worker: 1",
    );
    ok(
        days72_process_args,
        "Worker 0\nWorker 2\nWorker 1\nWorker 3\nWorker 4\n",
    );
    ok(
        subclass,
        "In Worker-1\nIn Worker-2\nIn Worker-3\nIn Worker-4\nIn Worker-5\n",
    );
    bad(
        subclass,
        "In Worker-1\nIn Worker-2\nIn Worker-3\nIn Worker-4\nIn Worker-6\n",
        "Worker-6",
    );
}

#[test]
fn import_worker_file_is_required() {
    let dir = std::env::temp_dir().join(format!("xtask-import-{}", std::process::id()));
    let sub = dir.join("examples/examples/multiprocessing_import_main");
    std::fs::create_dir_all(&sub).unwrap();
    let missing = import_worker_source(&dir);
    std::fs::write(
        sub.join("multiprocessing_import_worker.rs"),
        "pub fn other() {}\n",
    )
    .unwrap();
    let no_fn = import_worker_source(&dir);
    std::fs::write(
        sub.join("multiprocessing_import_worker.rs"),
        "pub(crate) fn worker() {}\n",
    )
    .unwrap();
    let good = import_worker_source(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(missing.unwrap_err().to_string().contains("no source file"));
    assert!(no_fn.unwrap_err().to_string().contains("fn worker"));
    good.unwrap();
}

#[test]
fn names_needs_real_parallel_order() {
    let parallel = "worker 1 Starting\nProcess-3 Starting\nmy_service Starting\n\
                    worker 1 Exiting\nProcess-3 Exiting\nmy_service Exiting\n";
    ok(names, parallel);
    // The seed's grouped order (block buffering artefact) is rejected.
    let grouped = "worker 1 Starting\nworker 1 Exiting\nProcess-3 Starting\n\
                   Process-3 Exiting\nmy_service Starting\nmy_service Exiting\n";
    bad(names, grouped, "must come before");
    let service_early = "worker 1 Starting\nProcess-3 Starting\nmy_service Starting\n\
                         my_service Exiting\nworker 1 Exiting\nProcess-3 Exiting\n";
    bad(names, service_early, "my_service Exiting");
    assert!(names(&Observed::new(parallel).wall(2.0)).is_err());
}

#[test]
fn daemon_forbids_daemon_exit() {
    ok(daemon, "Starting: non-daemon\nExiting : non-daemon\n");
    ok(
        daemon,
        "Starting: daemon\nStarting: non-daemon\nExiting : non-daemon\n",
    );
    bad(
        daemon,
        "Starting: daemon\nStarting: non-daemon\nExiting : non-daemon\nExiting : daemon\n",
        "forbidden",
    );
    bad(
        daemon,
        "Exiting : non-daemon\nStarting: non-daemon\n",
        "before",
    );
    bad(
        daemon,
        "Starting: non-daemon\nExiting : non-daemon\nhello\n",
        "unexpected",
    );
    assert!(
        daemon(&Observed::new("Starting: non-daemon\nExiting : non-daemon\n").wall(0.5)).is_err()
    );
}

#[test]
fn daemon_join_orders() {
    ok(
        daemon_join,
        "Starting: non-daemon\nExiting : non-daemon\nStarting: daemon\nExiting : daemon\n",
    );
    ok(
        daemon_join,
        "Starting: daemon\nStarting: non-daemon\nExiting : non-daemon\nExiting : daemon\n",
    );
    bad(
        daemon_join,
        "Starting: daemon\nStarting: non-daemon\nExiting : daemon\nExiting : non-daemon\n",
        "last line",
    );
}

#[test]
fn daemon_join_timeout_forbids_daemon_exit() {
    ok(
        daemon_join_timeout,
        "Starting: non-daemon\nExiting : non-daemon\nd.is_alive() True\n",
    );
    ok(
        daemon_join_timeout,
        "Starting: daemon\nStarting: non-daemon\nExiting : non-daemon\nd.is_alive() true\n",
    );
    bad(
        daemon_join_timeout,
        "Starting: non-daemon\nExiting : non-daemon\nd.is_alive() True\nExiting : daemon\n",
        "forbidden",
    );
    bad(
        daemon_join_timeout,
        "Starting: non-daemon\nExiting : non-daemon\nd.is_alive() False\n",
        "unexpected",
    );
}

const TERMINATE_PY3: &str = "\
BEFORE: <Process name='Process-1' parent=100 initial> False
DURING: <Process name='Process-1' pid=101 parent=100 started> True
TERMINATED: <Process name='Process-1' pid=101 parent=100 started> True
JOINED: <Process name='Process-1' pid=101 parent=100 stopped exitcode=-SIGTERM> False
";

#[test]
fn terminate_forms() {
    ok(
        terminate,
        "BEFORE: <Process(Process-1, initial)> False\n\
         DURING: <Process(Process-1, started)> True\n\
         TERMINATED: <Process(Process-1, started)> True\n\
         JOINED: <Process(Process-1, stopped[SIGTERM])> False\n",
    );
    ok(terminate, TERMINATE_PY3);
    ok(
        terminate,
        &TERMINATE_PY3
            .replace(
                "started> True\nJOINED",
                "stopped exitcode=-SIGTERM> False\nJOINED",
            )
            .replace("True", "true")
            .replace("False", "false"),
    );
    ok(terminate, &format!("Starting worker\n{TERMINATE_PY3}"));
    bad(
        terminate,
        &format!("{TERMINATE_PY3}Finished worker\n"),
        "forbidden",
    );
    bad(
        terminate,
        &TERMINATE_PY3.replacen(
            "pid=101 parent=100 stopped",
            "pid=102 parent=100 stopped",
            1,
        ),
        "pid differs",
    );
    bad(
        terminate,
        &TERMINATE_PY3.replacen("parent=100 initial", "parent=99 initial", 1),
        "parent pid differs",
    );
    let mut o = Observed::new(TERMINATE_PY3);
    o.pid = Some(100);
    terminate(&o).unwrap();
    o.pid = Some(101);
    let e = terminate(&o).unwrap_err();
    assert!(e.to_string().contains("main process"), "{e}");
    bad(
        terminate,
        &TERMINATE_PY3.replace("exitcode=-SIGTERM", "exitcode=-15"),
        "Process` display",
    );
    bad(
        terminate,
        &TERMINATE_PY3.replace("started> True\nTERMINATED", "started> False\nTERMINATED"),
        "DURING",
    );
}

#[test]
fn exitcode_needs_stderr_message() {
    let out = "Starting process for exit_error\nStarting process for exit_ok\n\
               Starting process for return_value\nStarting process for raises\n\
               Starting process for terminated\nexit_error.exitcode = 1\n\
               exit_ok.exitcode = 0\nreturn_value.exitcode = 0\nraises.exitcode = 1\n\
               terminated.exitcode = -15\n";
    let mut o = Observed::new(out);
    assert!(exitcode(&o).unwrap_err().to_string().contains("stderr"));
    o.stderr = "thread 'main' panicked at src/main.rs:3:5:\nThere was an error!\n".into();
    exitcode(&o).unwrap();
    o.stdout = out.replace("-15", "1");
    assert!(exitcode(&o).is_err());
}

#[test]
fn sfp_02_and_03() {
    ok(
        sfp_02_run_function,
        "Waiting for the process...\nThis is from another process\n",
    );
    assert!(sfp_02_run_function(
        &Observed::new("Waiting for the process...\nThis is from another process\n").wall(0.2)
    )
    .is_err());
    ok(
        sfp_02_extend_process,
        "Waiting for the process to finish\nThis is another process\n",
    );
    ok(sfp_03_pid, "None\n16302\n");
    bad(sfp_03_pid, "None\nSome(16302)\n", "not a pid");
    bad(sfp_03_pid, "16302\n16302\n", "None");
    ok(sfp_03_exitcode, "None\nNone\n0\n");
    ok(
        sfp_03_current_process,
        "<_MainProcess name='MainProcess' parent=None started>\n",
    );
    ok(
        sfp_03_current_process,
        "<MainProcess name='MainProcess' parent=None started>\n",
    );
    bad(
        sfp_03_current_process,
        "<MainProcess name='MainProcess'>\n",
        "is not",
    );
    let table: Vec<_> = EXAMPLES.iter().collect();
    let by = |n: &str| table.iter().find(|(name, _)| *name == n).unwrap().1;
    ok(by("sfp_03_process_name"), "MyProcess\n");
    ok(by("sfp_03_daemon"), "True\n");
    ok(by("sfp_03_daemon"), "true\n");
    bad(by("sfp_03_daemon"), "False\n", "expected");
    ok(by("sfp_03_is_alive"), "False\n");
    ok(by("sfp_03_parent_process"), "None\n");
    ok(by("days72_process"), "Worker\n");
}

#[test]
fn active_children() {
    let good = "Active Children Count: 5\n\
<Process name='Process-3' pid=16853 parent=16849 started>\n\
<Process name='Process-4' pid=16854 parent=16849 started>\n\
<Process name='Process-2' pid=16852 parent=16849 started>\n\
<Process name='Process-1' pid=16851 parent=16849 started>\n\
<Process name='Process-5' pid=16855 parent=16849 started>\n";
    ok(sfp_03_active_children, good);
    bad(
        sfp_03_active_children,
        &good.replace("pid=16855", "pid=16854"),
        "distinct",
    );
    bad(
        sfp_03_active_children,
        &good.replace("Process-5", "Process-4"),
        "appears 2 times",
    );
    bad(
        sfp_03_active_children,
        &good.replace("16855 parent=16849", "16855 parent=1"),
        "parent",
    );
    bad(
        sfp_03_active_children,
        &good.replace("Count: 5", "Count: 4"),
        "first line",
    );
    let mut o = Observed::new(good);
    o.pid = Some(16849);
    sfp_03_active_children(&o).unwrap();
    o.pid = Some(16850);
    assert!(sfp_03_active_children(&o).is_err());
    // The seed's cut-short lines are not the full form.
    bad(
        sfp_03_active_children,
        &good.replace(" started>", " ..."),
        "is not",
    );
}
