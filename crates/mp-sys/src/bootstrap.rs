//! The child bootstrap: a start-up constructor (`.init_array`) that takes over
//! a process started by [`spawn_self`] before `main` runs, and `spawn_self`
//! itself (fork + exec of our own executable from the fd opened at start-up).
//!
//! The protocol is one environment variable, [`BOOTSTRAP_ENV`], holding
//! `FD:OFFSET:SIGNATURE:BUILD`: an inherited control socket and an
//! [`EntryPoint<OwnedFd, i32>`] to call with it. The constructor removes the
//! variable before doing anything else, so a program can never re-run itself
//! recursively (no fork bomb); the entry point's return value is the exit
//! code. A process without the variable is untouched and runs `main`.
//!
//! # Safety
//! Placing a function pointer in `.init_array` and calling `posix_spawn`
//! are unsafe operations; each block says why it holds.
#![allow(unsafe_code)]

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use crate::entry::EntryPoint;
use crate::exe::{self_exe, BinaryId};
use crate::process::{adopt_inherited_fd, exit_now, pidfd_open};

/// The environment variable that marks a process as a bootstrapping child.
pub const BOOTSTRAP_ENV: &str = "MULTIPROCESS_BOOTSTRAP";

/// The entry point a bootstrapping child runs: it gets the control socket and
/// returns the exit code.
pub type ChildMain = EntryPoint<OwnedFd, i32>;

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
        // Single-threaded here (before main), so changing the environment is
        // fine; it must go before anything else so a child can never re-enter.
        std::env::remove_var(BOOTSTRAP_ENV);
        // A panic must not unwind through the C runtime.
        let code = std::panic::catch_unwind(|| run_child(value)).unwrap_or(255);
        exit_now(code);
    }
}

fn run_child(value: OsString) -> i32 {
    let parsed = value.to_str().and_then(parse_env);
    let Some((fd, entry)) = parsed else {
        eprintln!("multiprocess: malformed {BOOTSTRAP_ENV}={value:?}");
        return 255;
    };
    let main = match entry.resolve() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("multiprocess: cannot start child: {e}");
            return 255;
        }
    };
    match adopt_inherited_fd(fd) {
        Ok(control) => main(control),
        Err(e) => {
            eprintln!("multiprocess: child's control fd {fd} is not open: {e}");
            255
        }
    }
}

fn parse_env(s: &str) -> Option<(i32, ChildMain)> {
    let mut it = s.split(':');
    let fd = it.next()?.parse().ok()?;
    let offset = it.next()?.parse().ok()?;
    let sig = u64::from_str_radix(it.next()?, 16).ok()?;
    let build = BinaryId::from_hex(it.next()?)?;
    if it.next().is_some() {
        return None;
    }
    Some((fd, EntryPoint::from_parts(offset, sig, build.0)))
}

fn format_env(fd: i32, entry: &ChildMain) -> String {
    let (offset, sig, build) = entry.to_parts();
    format!("{fd}:{offset}:{sig:x}:{}", BinaryId(build).to_hex())
}

/// True if this process was started as a bootstrapping child but the
/// constructor did not take it over (it is running `main` with the marker
/// still set). Starting processes then would recurse; callers refuse.
pub fn bootstrap_pending() -> bool {
    std::env::var_os(BOOTSTRAP_ENV).is_some()
}

/// Starts a new process running this same executable (from the fd opened at
/// start-up), which calls `entry` with `control` before its `main` would run.
///
/// Uses `posix_spawn` (a vfork-style clone, then exec: no copy of the
/// parent's page tables). The child keeps `control` at the same fd number
/// (a same-fd `dup2` file action clears its close-on-exec flag in the child
/// only, glibc ≥ 2.29), its standard input is `/dev/null`, its environment is
/// this process's plus [`BOOTSTRAP_ENV`], and its `argv` is this process's.
/// Returns the child's pid and a pidfd.
pub fn spawn_self(control: BorrowedFd<'_>, entry: &ChildMain) -> io::Result<(u32, OwnedFd)> {
    // Keep the constructor linked into every program that can spawn.
    std::hint::black_box(&CONSTRUCTOR);
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
        format!("{BOOTSTRAP_ENV}={}", format_env(raw, entry)).into_bytes(),
    )?);
    let devnull = cstring(b"/dev/null".to_vec())?;
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
    let pidfd = pidfd_open(pid)?;
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
    fn env_round_trip() {
        let e = EntryPoint::of(child_main);
        let s = format_env(7, &e);
        let (fd, back) = parse_env(&s).unwrap();
        assert_eq!(fd, 7);
        assert_eq!(back.to_parts(), e.to_parts());
        assert!(parse_env("7:1:2").is_none());
        assert!(parse_env("x:1:2:00").is_none());
        assert!(parse_env(&format!("{s}:extra")).is_none());
    }
}
