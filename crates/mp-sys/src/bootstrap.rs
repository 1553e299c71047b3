//! The child bootstrap: a start-up constructor (`.init_array`) that takes over
//! a process started by [`spawn_self`] before `main` runs, and `spawn_self`
//! itself (`posix_spawn` of our own executable from the fd opened at
//! start-up).
//!
//! # Protocol
//! The environment variable [`BOOTSTRAP_ENV`] holds `v1:FD` and nothing else:
//! a version tag and the number of an inherited control socket. It carries
//! no code address. The parent, right after spawning, writes a fixed-size
//! bootstrap record on that socket: a magic and version, the process tree's
//! secret key, and the parts of the [`ChildMain`] entry point to call. The
//! constructor in the child
//! 1. removes the variable, before anything else, so a program never re-runs
//!    itself recursively (no fork bomb);
//! 2. refuses to go on if the kernel marked the process `AT_SECURE`
//!    (setuid, setgid or file capabilities): such a program runs with
//!    privileges its invoker lacks, and the invoker controls the environment;
//! 3. checks that `FD` is a Unix socket whose peer (`SO_PEERCRED`) is our
//!    parent process;
//! 4. reads the record with a bounded wait, installs the key and resolves
//!    the entry point (whose tag must verify under that key);
//! 5. calls it with the control socket; its return value is the exit code.
//!
//! Any deviation prints why on stderr and exits with code 255, having called
//! nothing. A process without the variable is untouched and runs `main`.
//!
//! # Safety
//! Placing a function pointer in `.init_array`, reading the auxiliary vector
//! and calling `posix_spawn` are unsafe operations; each block says why it
//! holds.
#![allow(unsafe_code)]

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

use crate::entry::{EntryParts, EntryPoint};
use crate::exe::self_exe;
use crate::process::{adopt_inherited_fd, exit_now, getppid};
use crate::time::Deadline;
use crate::tree_key::{self, KEY_LEN};

/// The environment variable that marks a process as a bootstrapping child.
pub const BOOTSTRAP_ENV: &str = "MULTIPROCESS_BOOTSTRAP";

/// The version tag that starts [`BOOTSTRAP_ENV`]'s value.
const ENV_VERSION: &str = "v1";

/// The entry point a bootstrapping child runs: it gets the control socket and
/// returns the exit code.
pub type ChildMain = EntryPoint<OwnedFd, i32>;

/// The first bytes of a bootstrap record: a magic and the record version.
const RECORD_MAGIC: [u8; 8] = *b"MPBOOT\x00\x01";
/// magic, key, entry offset, entry tag, build-id.
const RECORD_LEN: usize = 8 + KEY_LEN + 8 + 8 + 20;
/// How long a child waits for its parent's bootstrap record (the parent
/// writes it right after `posix_spawn` returns).
const RECORD_TIMEOUT: Duration = Duration::from_secs(60);

type InitFn = extern "C" fn(i32, *const *const u8, *const *const u8);

// SAFETY: `.init_array` holds pointers to functions the C runtime calls once
// at start-up with (argc, argv, envp); `on_load` has exactly that C ABI and
// signature, ignores its arguments, and never unwinds (see its body).
#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: InitFn = on_load;

extern "C" fn on_load(_argc: i32, _argv: *const *const u8, _envp: *const *const u8) {
    crate::exe::open_self_exe();
    crate::exit::install_hook();
    if let Some(value) = std::env::var_os(BOOTSTRAP_ENV) {
        // This runs before `main`, from the C runtime's constructor list:
        // no thread of this program exists yet unless an earlier
        // constructor started one, which no code of this workspace does, so
        // nothing reads the environment concurrently. It must go before
        // anything else so a child can never re-enter.
        std::env::remove_var(BOOTSTRAP_ENV);
        // A panic must not unwind through the C runtime.
        let code = std::panic::catch_unwind(|| match take_over(value) {
            Ok(code) => code,
            Err(why) => {
                eprintln!("multiprocess: refusing to start as a child: {why}");
                255
            }
        })
        .unwrap_or(255);
        exit_now(code);
    }
    // An MPI rank other than 0 serves calls here and never returns.
    #[cfg(feature = "mpi")]
    crate::mpi_job::on_load();
}

/// True if the kernel started this process in secure-execution mode
/// (`AT_SECURE`: setuid, setgid, or gained file capabilities).
fn secure_execution() -> bool {
    // SAFETY: `getauxval` only reads the auxiliary vector the kernel gave
    // this process; it has no preconditions and returns 0 for an absent
    // entry.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// Steps 2–5 of the protocol; `Err` says why the process refuses.
fn take_over(value: OsString) -> Result<i32, String> {
    if secure_execution() {
        return Err(format!(
            "{BOOTSTRAP_ENV} is set in a program running with raised privileges \
             (AT_SECURE: setuid, setgid or file capabilities)"
        ));
    }
    let fd = value.to_str().and_then(parse_env).ok_or_else(|| {
        format!("malformed {BOOTSTRAP_ENV}={value:?} (expected {ENV_VERSION}:FD)")
    })?;
    let control = adopt_inherited_fd(fd)
        .map_err(|e| format!("the control fd {fd} named by {BOOTSTRAP_ENV} is not open: {e}"))?;
    check_peer_is_parent(&control)?;
    let mut record = [0u8; RECORD_LEN];
    read_record(&control, &mut record)?;
    let (key, entry) = decode_record(&record)?;
    if !tree_key::install(key) {
        return Err("this process already has a process-tree key".into());
    }
    let main = entry
        .resolve()
        .map_err(|e| format!("the bootstrap record's entry point: {e}"))?;
    Ok(main(control))
}

fn parse_env(s: &str) -> Option<i32> {
    let (version, fd) = s.split_once(':')?;
    if version != ENV_VERSION || fd.is_empty() || !fd.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    fd.parse().ok()
}

fn format_env(fd: i32) -> String {
    format!("{ENV_VERSION}:{fd}")
}

/// The control fd must be a Unix socket whose peer is the process that
/// started us (`SO_PEERCRED` of a `socketpair` names the process that
/// created it, which is [`spawn_self`]'s caller).
fn check_peer_is_parent(control: &OwnedFd) -> Result<(), String> {
    let domain = rustix::net::sockopt::socket_domain(control)
        .map_err(|e| format!("the control fd is not a socket: {e}"))?;
    if domain != rustix::net::AddressFamily::UNIX {
        return Err("the control fd is not a Unix socket".into());
    }
    let peer = rustix::net::sockopt::socket_peercred(control)
        .map_err(|e| format!("cannot read the control socket's peer: {e}"))?;
    let peer_pid = peer.pid.as_raw_nonzero().get() as u32;
    let parent = getppid();
    if peer_pid != parent {
        return Err(format!(
            "the control socket's peer is process {peer_pid}, not our parent {parent}"
        ));
    }
    Ok(())
}

/// Reads exactly one record, waiting at most [`RECORD_TIMEOUT`] in all.
fn read_record(control: &OwnedFd, record: &mut [u8; RECORD_LEN]) -> Result<(), String> {
    let deadline = Deadline::after(Some(RECORD_TIMEOUT));
    let mut got = 0;
    while got < RECORD_LEN {
        match crate::socket::poll_readable(control, deadline.remaining()) {
            Ok(true) => {}
            Ok(false) => return Err("no bootstrap record from the parent in time".into()),
            Err(e) => return Err(format!("waiting for the bootstrap record: {e}")),
        }
        match rustix::io::read(control, &mut record[got..]) {
            Ok(0) => {
                return Err(
                    "the parent closed the control socket before the bootstrap record".into(),
                )
            }
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(e) => return Err(format!("reading the bootstrap record: {e}")),
        }
    }
    Ok(())
}

fn encode_record(key: &[u8; KEY_LEN], entry: &ChildMain) -> [u8; RECORD_LEN] {
    let (offset, tag, build) = entry.to_parts();
    let mut out = [0u8; RECORD_LEN];
    let parts: [&[u8]; 5] = [
        &RECORD_MAGIC,
        key,
        &offset.to_le_bytes(),
        &tag.to_le_bytes(),
        &build,
    ];
    let mut at = 0;
    for p in parts {
        out[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    out
}

fn decode_record(
    r: &[u8; RECORD_LEN],
) -> Result<([u8; KEY_LEN], EntryParts<OwnedFd, i32>), String> {
    let (magic, rest) = r.split_at(8);
    if magic != RECORD_MAGIC {
        return Err("the bootstrap record has a wrong magic or version".into());
    }
    let (key, rest) = rest.split_at(KEY_LEN);
    let (offset, rest) = rest.split_at(8);
    let (tag, build) = rest.split_at(8);
    let array = |b: &[u8]| -> [u8; 8] { b.try_into().unwrap_or([0; 8]) };
    let entry = EntryParts::new(
        i64::from_le_bytes(array(offset)),
        u64::from_le_bytes(array(tag)),
        build.try_into().unwrap_or([0; 20]),
    );
    Ok((key.try_into().unwrap_or([0; KEY_LEN]), entry))
}

/// True if this process was started as a bootstrapping child but the
/// constructor did not take it over (it is running `main` with the marker
/// still set). Starting processes then would recurse; callers refuse.
pub fn bootstrap_pending() -> bool {
    std::env::var_os(BOOTSTRAP_ENV).is_some()
}

/// A child started by [`spawn_self`].
#[derive(Debug)]
pub struct Spawned {
    /// The child's process id.
    pub pid: u32,
    /// A pidfd for the child.
    pub pidfd: OwnedFd,
    /// Our end of the child's control socket; the child's entry point gets
    /// the other end, with the bootstrap record already consumed.
    pub control: OwnedFd,
}

/// Starts a new process running this same executable (from the fd opened at
/// start-up), which calls `entry` with its end of a new control socket
/// before its `main` would run.
///
/// Uses `posix_spawn` (a vfork-style clone, then exec: no copy of the
/// parent's page tables). The child keeps its end of the socket at the same
/// fd number (a same-fd `dup2` file action clears its close-on-exec flag in
/// the child only, glibc ≥ 2.29), its standard input is `/dev/null`, it
/// inherits no other descriptor of this process but standard output and
/// error (Python's `close_fds`; see [`crate::fd::inheritable_fds`]), its
/// environment is this process's plus [`BOOTSTRAP_ENV`], and its `argv` is
/// this process's. The bootstrap record (the process-tree key and `entry`)
/// is written on the socket before this returns.
///
/// Fails if the process has no process-tree key (the OS gave no entropy).
pub fn spawn_self(entry: &ChildMain) -> io::Result<Spawned> {
    // Keep the constructor linked into every program that can spawn.
    std::hint::black_box(&CONSTRUCTOR);
    let record = encode_record(tree_key::get()?.bytes(), entry);
    let (ours, theirs) = crate::socket::socketpair()?;
    let (pid, pidfd) = spawn_exe(theirs.as_fd())?;
    drop(theirs);
    // One `sendmsg` (`MSG_NOSIGNAL`: a child that already died is an
    // error, not a SIGPIPE) into an empty socket buffer; a child that never
    // gets its record sees EOF once `ours` is dropped.
    let sent = match crate::socket::send_with_fds(&ours, &record, &[]) {
        Ok(n) if n == RECORD_LEN => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short write of the bootstrap record",
        )),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        // Reap the child we could not start, so no zombie is left.
        let _ = crate::process::send_signal(&pidfd, libc::SIGKILL);
        let _ = crate::process::wait_pidfd(&pidfd, true);
        return Err(e);
    }
    Ok(Spawned {
        pid,
        pidfd,
        control: ours,
    })
}

/// `posix_spawn` of our executable with `control` inherited and
/// [`BOOTSTRAP_ENV`] naming it.
fn spawn_exe(control: std::os::fd::BorrowedFd<'_>) -> io::Result<(u32, OwnedFd)> {
    let exe = self_exe()?;
    let path = cstring(format!("/proc/self/fd/{}", exe.as_raw_fd()).into_bytes())?;
    let raw = control.as_raw_fd();
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| cstring(a.into_vec()))
        .collect::<io::Result<_>>()?;
    let mut envp: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != BOOTSTRAP_ENV)
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            cstring(kv)
        })
        .collect::<io::Result<_>>()?;
    envp.push(cstring(
        format!("{BOOTSTRAP_ENV}={}", format_env(raw)).into_bytes(),
    )?);
    let devnull = cstring(b"/dev/null".to_vec())?;
    let inherited = crate::fd::inheritable_fds()?;
    let argv_ptrs = null_terminated(&argv);
    let envp_ptrs = null_terminated(&envp);

    let mut actions = std::mem::MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
    // SAFETY: `actions` is valid writable memory for the structure, which
    // `posix_spawn_file_actions_init` initialises.
    check(unsafe { libc::posix_spawn_file_actions_init(actions.as_mut_ptr()) })?;
    let result = (|| -> io::Result<u32> {
        // SAFETY: `actions` was initialised above; the path is a valid C
        // string that outlives the call (it is copied by glibc).
        check(unsafe {
            libc::posix_spawn_file_actions_addopen(
                actions.as_mut_ptr(),
                0,
                devnull.as_ptr(),
                libc::O_RDONLY,
                0,
            )
        })?;
        // SAFETY: `actions` is initialised; `raw` is an open fd of ours.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(actions.as_mut_ptr(), raw, raw) })?;
        // As Python's spawn (`close_fds`), the child gets standard input,
        // output and error and its control socket, nothing else: every other
        // descriptor this process would pass on through the exec (one
        // inherited from its own parent, a library's opened without
        // close-on-exec) is closed in the child first. Kept open there, a
        // pipe's write end would hold off its reader's end of file for as
        // long as the child (or the fork server, and so every child forked
        // from it) lives. One closed meanwhile is no error (glibc ignores a
        // close action's `EBADF`).
        for fd in inherited.iter().copied().filter(|&fd| fd != raw) {
            // SAFETY: `actions` is initialised; a close action takes a plain
            // number.
            check(unsafe { libc::posix_spawn_file_actions_addclose(actions.as_mut_ptr(), fd) })?;
        }
        let mut pid: libc::pid_t = 0;
        // [1] `path`, `argv_ptrs` and `envp_ptrs` are valid NUL-terminated C
        // strings / null-terminated pointer arrays that live until the call
        // returns; [2] `actions` is initialised; [3] a null attribute pointer
        // means default attributes.
        // SAFETY: by [1], [2] and [3] just above.
        check(unsafe {
            libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                actions.as_ptr(),
                std::ptr::null(),
                argv_ptrs.as_ptr(),
                envp_ptrs.as_ptr(),
            )
        })?;
        Ok(pid as u32)
    })();
    // SAFETY: `actions` was initialised and is destroyed exactly once.
    unsafe { libc::posix_spawn_file_actions_destroy(actions.as_mut_ptr()) };
    let pid = result?;
    let pidfd = crate::process::pidfd_or_reap(pid)?;
    Ok((pid, pidfd))
}

fn cstring(bytes: Vec<u8>) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in argument"))
}

fn null_terminated(strings: &[CString]) -> Vec<*mut libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr().cast_mut())
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect()
}

/// posix_spawn functions return the error number instead of setting errno.
fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child_main(fd: OwnedFd) -> i32 {
        drop(fd);
        0
    }

    #[test]
    fn env_carries_only_a_version_and_an_fd() {
        assert_eq!(parse_env(&format_env(7)), Some(7));
        for bad in ["7", "v2:7", "v1:", "v1:-1", "v1:7:1", "v1:+7", "7:1:2:00"] {
            assert_eq!(parse_env(bad), None, "{bad}");
        }
    }

    #[test]
    fn record_round_trip_and_magic() {
        let e = EntryPoint::of(child_main);
        let key = [9u8; KEY_LEN];
        let mut r = encode_record(&key, &e);
        let (k, back) = decode_record(&r).unwrap();
        assert_eq!((k, back.get()), (key, e.to_parts()));
        r[7] ^= 1;
        assert!(decode_record(&r).is_err());
    }
}
