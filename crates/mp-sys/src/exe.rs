//! This program's own executable: an fd opened at start-up (so a rebuild of
//! the file mid-run cannot change what children execute) and an identity
//! (the ELF GNU build-id, else the file's device, inode, size and mtime).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use once_cell::race::OnceBox;

/// Set by the start-up constructor, before any other thread exists, so the
/// `OnceLock` is never seen mid-initialisation by a fork (see `fork_hooks`).
static SELF_EXE: OnceLock<Result<OwnedFd, i32>> = OnceLock::new();
/// Computed lazily, possibly while another thread forks: a racing cell,
/// which never leaves a forked child waiting (see `fork_hooks`).
static BINARY_ID: OnceBox<BinaryId> = OnceBox::new();

/// Opens `/proc/self/exe` once; called from the start-up constructor so that
/// the fd refers to the file this process was started from.
pub(crate) fn open_self_exe() {
    SELF_EXE.get_or_init(|| {
        rustix::fs::open(
            "/proc/self/exe",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| e.raw_os_error())
    });
}

/// An fd for the executable this process was started from (opened at
/// start-up, before `main`).
pub fn self_exe() -> io::Result<BorrowedFd<'static>> {
    open_self_exe();
    match SELF_EXE.get() {
        Some(Ok(fd)) => Ok(fd.as_fd()),
        Some(Err(e)) => Err(io::Error::from_raw_os_error(*e)),
        None => Err(io::Error::other("self exe not opened")),
    }
}

/// What identifies the binary a process runs, so that a child can refuse to
/// interpret function offsets that come from a different executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BinaryId(pub [u8; 20]);

impl BinaryId {
    /// Lowercase hex, 40 characters.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`to_hex`](Self::to_hex)'s output.
    pub fn from_hex(s: &str) -> Option<BinaryId> {
        if s.len() != 40 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(BinaryId(out))
    }
}

/// This process's [`BinaryId`], computed once.
pub fn binary_id() -> BinaryId {
    *BINARY_ID.get_or_init(|| {
        Box::new(
            self_exe()
                .ok()
                .and_then(|fd| {
                    gnu_build_id(fd)
                        .ok()
                        .flatten()
                        .or_else(|| file_identity(fd).ok())
                })
                .unwrap_or(BinaryId([0; 20])),
        )
    })
}

fn read_at(fd: BorrowedFd<'_>, off: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = rustix::io::pread(fd, &mut buf[done..], off + done as u64)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        done += n;
    }
    Ok(buf)
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}
fn u64le(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// Reads the `NT_GNU_BUILD_ID` note of a little-endian ELF64 file.
fn gnu_build_id(fd: BorrowedFd<'_>) -> io::Result<Option<BinaryId>> {
    let eh = read_at(fd, 0, 64)?;
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Ok(None);
    }
    let phoff = u64le(&eh, 0x20);
    let phentsize = u16le(&eh, 0x36) as usize;
    let phnum = u16le(&eh, 0x38) as usize;
    if phentsize < 56 || phnum > 256 {
        return Ok(None);
    }
    let ph = read_at(fd, phoff, phentsize * phnum)?;
    for i in 0..phnum {
        let p = &ph[i * phentsize..];
        if u32le(p, 0) != 4 {
            continue; // not PT_NOTE
        }
        let (off, size) = (u64le(p, 8), u64le(p, 32) as usize);
        if size > 1 << 16 {
            continue;
        }
        let notes = read_at(fd, off, size)?;
        let mut at = 0;
        while at + 12 <= notes.len() {
            let namesz = u32le(&notes, at) as usize;
            let descsz = u32le(&notes, at + 4) as usize;
            let ty = u32le(&notes, at + 8);
            let name_at = at + 12;
            let desc_at = name_at + namesz.div_ceil(4) * 4;
            let end = desc_at + descsz.div_ceil(4) * 4;
            if end > notes.len() {
                break;
            }
            if ty == 3 && &notes[name_at..name_at + namesz] == b"GNU\0" {
                let mut id = [0u8; 20];
                let desc = &notes[desc_at..desc_at + descsz];
                for (k, b) in desc.iter().enumerate() {
                    id[k % 20] ^= *b;
                }
                return Ok(Some(BinaryId(id)));
            }
            at = end;
        }
    }
    Ok(None)
}

/// Falls back to the file's identity when there is no build-id.
fn file_identity(fd: BorrowedFd<'_>) -> io::Result<BinaryId> {
    let st = rustix::fs::fstat(fd)?;
    let mut id = [0u8; 20];
    id[..8].copy_from_slice(&st.st_dev.to_le_bytes());
    id[8..16].copy_from_slice(&st.st_ino.to_le_bytes());
    let mix = (st.st_size as u64) ^ ((st.st_mtime as u64) << 20) ^ st.st_mtime_nsec as u64;
    id[16..20].copy_from_slice(&(mix as u32 ^ (mix >> 32) as u32).to_le_bytes());
    Ok(BinaryId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_stable_and_hex_round_trips() {
        let a = binary_id();
        assert_eq!(a, binary_id());
        assert_ne!(a, BinaryId([0; 20]));
        assert_eq!(BinaryId::from_hex(&a.to_hex()), Some(a));
        assert_eq!(BinaryId::from_hex("zz"), None);
    }
}
