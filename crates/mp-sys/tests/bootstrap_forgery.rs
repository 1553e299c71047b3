//! The bootstrap refuses every way of choosing a child's code from outside
//! the parent: a forged `MULTIPROCESS_BOOTSTRAP` in the old
//! `FD:OFFSET:SIG:BUILD` format (real build-id, valid signature hash, chosen
//! offset), a forged bootstrap record, the variable in a setuid program
//! (AT_SECURE), and a record on a socket whose peer is not the parent. In
//! each case the chosen function (which would create a marker file) must
//! not run, and the process must exit with 255 and say why.
//!
//! The children are this test binary, run again with the variable set; the
//! `mp-sys` constructor takes them over before the test harness starts.

use std::any::type_name;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use mp_sys::bootstrap::{spawn_self, ChildMain, Spawned, BOOTSTRAP_ENV};
use mp_sys::entry::EntryPoint;
use mp_sys::exe::binary_id;

/// Tests that clear close-on-exec on an fd run one at a time, so no other
/// test's child inherits it.
static SERIAL: Mutex<()> = Mutex::new(());

const MARKER_ENV: &str = "MP_SYS_TEST_MARKER";

/// The function an attacker would like to run: it leaves a file behind.
fn plant_marker(_control: OwnedFd) -> i32 {
    if let Some(path) = std::env::var_os(MARKER_ENV) {
        let _ = std::fs::write(path, b"ran");
    }
    println!("MARKER RAN");
    0
}

/// A real child main: answers on its control socket.
fn echo_main(control: OwnedFd) -> i32 {
    let _ = mp_sys::fd::write_all(&control, b"child ok");
    7
}

/// The signature hash of the old format: FNV-1a of the type name.
fn old_signature_hash() -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in type_name::<fn(OwnedFd) -> i32>().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// What the old bootstrap accepted, `FD:OFFSET:SIG:BUILD`: the real
/// build-id, the valid signature hash, and an offset of the attacker's
/// choosing (`plant_marker`'s).
fn old_format(control: &OwnedFd) -> String {
    let (offset, _, build) = EntryPoint::of(plant_marker).to_parts();
    assert_eq!(build, binary_id().0);
    format!(
        "{}:{offset}:{:x}:{}",
        control.as_raw_fd(),
        old_signature_hash(),
        mp_sys::exe::BinaryId(build).to_hex()
    )
}

/// A fresh directory that any user may write to (so a marker *could* be
/// created, also by an unprivileged child).
fn scratch(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("mp-sys-forgery-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// Lets `fd` survive `exec` into the next child.
fn inheritable(fd: &OwnedFd) {
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty()).unwrap();
}

/// A well-formed bootstrap record naming `plant_marker`, with a key of the
/// forger's choosing and a tag it could not compute for that key.
fn forged_record() -> Vec<u8> {
    let (offset, tag, build) = EntryPoint::of(plant_marker).to_parts();
    let mut record = Vec::new();
    record.extend_from_slice(b"MPBOOT\x00\x01");
    record.extend_from_slice(&[0x5a; 16]);
    record.extend_from_slice(&offset.to_le_bytes());
    record.extend_from_slice(&tag.to_le_bytes());
    record.extend_from_slice(&build);
    record
}

/// A scratch directory, the marker path in it, and a socket pair whose
/// second end survives `exec`.
fn prepare(name: &str) -> (PathBuf, PathBuf, OwnedFd, OwnedFd) {
    let dir = scratch(name);
    let marker = dir.join("marker");
    let (ours, theirs) = mp_sys::socket::socketpair().unwrap();
    inheritable(&theirs);
    (dir, marker, ours, theirs)
}

/// Arguments that make the test harness run nothing, should the constructor
/// ever let the child reach `main`.
const NO_TESTS: [&str; 2] = ["--exact", "no-such-test-runs-here"];

/// This test binary, to be run again as a child.
fn this_binary() -> Command {
    Command::new(std::env::current_exe().unwrap())
}

/// Runs `cmd` (which ends with the program to bootstrap) with arguments that
/// run no test, the marker path, and the bootstrap variable if any.
fn run(mut cmd: Command, bootstrap: Option<String>, marker: &Path) -> Output {
    cmd.args(NO_TESTS).env(MARKER_ENV, marker);
    if let Some(value) = bootstrap {
        cmd.env(BOOTSTRAP_ENV, value);
    }
    cmd.output().unwrap()
}

fn assert_refused(out: &Output, marker: &Path, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(255),
        "status {:?}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    assert!(
        stderr.contains("multiprocess: refusing to start as a child") && stderr.contains(why),
        "stderr lacks {why:?}: {stderr}"
    );
    assert!(
        !stdout.contains("MARKER RAN"),
        "the chosen function ran: {stdout}"
    );
    assert!(!marker.exists(), "the chosen function created {marker:?}");
}

#[test]
fn spawn_self_runs_the_parents_choice() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Spawned { pidfd, control, .. } = spawn_self(&ChildMain::of(echo_main)).unwrap();
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        let n = rustix::io::read(&control, &mut buf[got..]).unwrap();
        assert_ne!(n, 0, "child closed early");
        got += n;
    }
    assert_eq!(&buf, b"child ok");
    let status = mp_sys::process::wait_pidfd(&pidfd, true).unwrap().unwrap();
    assert_eq!(status.code(), 7);
}

#[test]
fn forged_variable_in_the_old_format_is_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, marker, ours, theirs) = prepare("old-format");
    let out = run(this_binary(), Some(old_format(&theirs)), &marker);
    drop((ours, theirs));
    assert_refused(&out, &marker, "malformed MULTIPROCESS_BOOTSTRAP");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes a forged record on a fresh socket, runs `cmd` on it and checks
/// the refusal says `why`.
fn forged_record_is_refused(name: &str, cmd: Command, why: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, marker, ours, theirs) = prepare(name);
    mp_sys::fd::write_all(&ours, &forged_record()).unwrap();
    let out = run(cmd, Some(format!("v1:{}", theirs.as_raw_fd())), &marker);
    drop((ours, theirs));
    assert_refused(&out, &marker, why);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn forged_record_from_the_parent_is_refused() {
    forged_record_is_refused("record", this_binary(), "does not authenticate");
}

#[test]
fn record_from_a_peer_that_is_not_the_parent_is_refused() {
    // The shell forks the child (the command is not the last one, so it is
    // not exec'd in place): its parent is the shell, while the socket's peer
    // is this test process.
    let mut shell = Command::new("/bin/sh");
    shell
        .arg("-c")
        .arg("\"$0\" \"$1\" \"$2\"; exit $?")
        .arg(std::env::current_exe().unwrap());
    forged_record_is_refused("peer", shell, "not our parent");
}

/// Says loudly why the AT_SECURE test could not run; fails under CI.
fn cannot_set_up(why: &str) {
    eprintln!("\n!!! at_secure test NOT RUN: {why} !!!\n");
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "the AT_SECURE refusal must be tested in CI: {why}"
    );
}

#[test]
fn bootstrap_under_at_secure_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if rustix::process::geteuid().as_raw() != 0 {
        return cannot_set_up("not running as root (a setuid-root copy is needed)");
    }
    let Some(setpriv) = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        return cannot_set_up("setpriv(1) is not installed (util-linux)");
    };
    let (dir, marker, ours, theirs) = prepare("at-secure");
    let nosuid = rustix::fs::statvfs(&dir)
        .map(|v| v.f_flag.contains(rustix::fs::StatVfsMountFlags::NOSUID))
        .unwrap_or(true);
    if nosuid {
        drop((ours, theirs));
        let _ = std::fs::remove_dir_all(&dir);
        return cannot_set_up(&format!("{} is on a nosuid mount", dir.display()));
    }
    let copy = dir.join("setuid-test-binary");
    std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // The copy is another file, so its fallback identity may differ; the
    // build-id (if the linker wrote one) is the same. Either way the
    // refusal must come first.
    let value = old_format(&theirs);
    let unprivileged = || {
        let mut cmd = Command::new(setpriv);
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&copy);
        cmd
    };
    // Control: the same copy without the variable runs as an ordinary
    // program (so a refusal below is the bootstrap's, not a failed exec).
    let plain = run(unprivileged(), None, &marker);
    if !plain.status.success() {
        drop((ours, theirs));
        let _ = std::fs::remove_dir_all(&dir);
        return cannot_set_up(&format!(
            "the setuid copy does not run as uid 65534: {:?} {}",
            plain.status,
            String::from_utf8_lossy(&plain.stderr)
        ));
    }
    for v in [value, format!("v1:{}", theirs.as_raw_fd())] {
        let out = run(unprivileged(), Some(v), &marker);
        assert_refused(&out, &marker, "AT_SECURE");
    }
    drop((ours, theirs));
    let _ = std::fs::remove_dir_all(&dir);
}
