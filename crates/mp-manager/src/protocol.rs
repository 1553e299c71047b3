//! The request/reply protocol between proxies and the server, and the
//! helpers that turn values into the opaque bytes the server stores.
//!
//! A request is `(object id, method name, postcard-encoded arguments)`, one
//! message on an authenticated `mp_channel::Connection`; the reply is one
//! message holding `Result<bytes, RemoteError>`. Object id 0 addresses the server itself
//! (the control methods below). The server never learns the types of the
//! values it stores: a dict holds the encodings of its keys and values, and
//! the proxy's type parameters say how to decode them.

use mp_wire::DecodeError;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::{ManagerError, RemoteError};

/// The object id of the server's own control methods.
pub(crate) const CONTROL: u128 = 0;

/// Control method: `(typeid, init bytes)` → new object id.
pub(crate) const CREATE: &str = "create";
/// Control method: the server's shutdown token → stop serving and exit.
/// Only the manager that started (or serves) the server has the token.
pub(crate) const SHUTDOWN: &str = "shutdown";
/// Control method: `()` → the server id (used by `connect`).
pub(crate) const HELLO: &str = "hello";
/// Control method: `id` → forget the object.
pub(crate) const RELEASE: &str = "release";
/// Control method: `()` → number of live objects.
pub(crate) const NUMBER_OF_OBJECTS: &str = "number_of_objects";
/// Control method: `id` → this connection takes a reference to the object.
pub(crate) const INCREF: &str = "incref";
/// Control method: `id` → this connection gives a reference back.
pub(crate) const DECREF: &str = "decref";
/// Control method: `(id, lease)` → a reference lent by this connection to
/// whoever adopts `lease` (a proxy leaving the process).
pub(crate) const LEASE: &str = "lease";
/// Control method: `(id, lease)` → this connection takes over the lease
/// (or a new reference if the lease is gone).
pub(crate) const ADOPT: &str = "adopt";
/// Control method: `id` → the server itself holds a reference (a proxy
/// stored in a managed value).
pub(crate) const PIN: &str = "pin";
/// Control method: `()` → `(id, typeid, refcount)` of every object.
pub(crate) const DEBUG_INFO: &str = "debug_info";
/// Control method: `(name, id)` → make an object reachable by name.
pub(crate) const PUBLISH: &str = "publish";
/// Control method: `name` → `(id, typeid)`.
pub(crate) const LOOKUP: &str = "lookup";
/// Control method: `()`, followed on the socket by one message holding a
/// duplex pipe end (an `mp_channel::Connection`) → `()`, after which this
/// connection's requests and replies go over the pipes (see `crate::pipes`).
pub(crate) const PIPES: &str = "pipes";

/// A request as the client sends it and the server reads it, borrowing
/// its parts (the server's from where the request was read).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RequestRef<'a> {
    #[serde(with = "object_id")]
    pub(crate) object: u128,
    pub(crate) method: &'a str,
    #[serde(with = "serde_bytes")]
    pub(crate) args: &'a [u8],
}

/// A request as the server keeps it while it runs it (same layout as
/// [`RequestRef`]); a connection's thread refills one for each request
/// ([`fill`](Self::fill)), so that its parts are allocated once.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Request {
    #[serde(with = "object_id")]
    pub(crate) object: u128,
    pub(crate) method: String,
    pub(crate) args: ByteBuf,
}

impl Request {
    /// Makes this the request `r`, keeping its allocations.
    pub(crate) fn fill(&mut self, r: &RequestRef<'_>) {
        self.object = r.object;
        self.method.clear();
        self.method.push_str(r.method);
        self.args.clear();
        self.args.extend_from_slice(r.args);
    }
}

/// A request's object id on the wire: its 16 bytes. postcard writes a
/// `u128` as a varint of up to 19 bytes, a loop step per 7 bits (random
/// ids take them all): about 170 instructions per call to write it and as
/// many to read it.
mod object_id {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_bytes::ByteArray;

    pub(crate) fn serialize<S: Serializer>(id: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&id.to_le_bytes())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        // Bytes of another length are refused by `ByteArray`.
        let bytes = ByteArray::<16>::deserialize(d)?;
        Ok(u128::from_le_bytes(bytes.into_array()))
    }
}

/// The reply to one request.
pub(crate) type Reply = Result<ByteBuf, RemoteError>;

/// A [`Reply`] as a client decodes it, the result's bytes borrowed from
/// where the reply was read.
pub(crate) type ReplyRef<'a> = Result<&'a [u8], RemoteError>;

/// Where a proxy being serialized on this thread goes, which decides the
/// reference it takes (see `crate::refs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Another process: the proxy lends a reference for the receiver.
    Elsewhere,
    /// A manager server, which keeps it: the proxy pins its object.
    Server,
    /// Nowhere, it is being printed: no reference is taken.
    Display,
}

thread_local! {
    static DESTINATION: std::cell::Cell<Destination> =
        const { std::cell::Cell::new(Destination::Elsewhere) };
}

/// Where the value being serialized on this thread goes.
pub(crate) fn destination() -> Destination {
    DESTINATION.with(std::cell::Cell::get)
}

/// Runs `f` (a serialization) with `to` as the destination.
fn serializing_to<T>(to: Destination, f: impl FnOnce() -> T) -> T {
    struct Restore(Destination);
    impl Drop for Restore {
        fn drop(&mut self) {
            DESTINATION.with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(DESTINATION.with(|d| d.replace(to)));
    f()
}

/// Runs `f`, a serialization for printing only: proxies inside take no
/// reference.
pub(crate) fn for_display<T>(f: impl FnOnce() -> T) -> T {
    serializing_to(Destination::Display, f)
}

/// The capacity [`to_bytes`] starts with.
const ARGS_START: usize = 64;

/// Encodes a value to the bytes the server stores. Values that carry file
/// descriptors (shared memory, sync handles) cannot be stored: the server
/// keeps bytes only.
pub(crate) fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<ByteBuf, ManagerError> {
    // Sized for the common small arguments at once, rather than grown
    // from empty through several reallocations.
    encode_checked(value, Vec::with_capacity(ARGS_START)).map(ByteBuf::from)
}

/// `value` encoded into `buf` for the server (see [`to_bytes`]).
fn encode_checked<T: Serialize + ?Sized>(value: &T, buf: Vec<u8>) -> Result<Vec<u8>, ManagerError> {
    let msg = serializing_to(Destination::Server, || mp_wire::encode_into(value, buf))?;
    if !msg.fds.is_empty() {
        return Err(ManagerError::HoldsFds);
    }
    Ok(msg.bytes)
}

/// The largest buffer kept for the next call (one large value does not
/// pin its size for the life of the thread).
const CALL_BUFFER_KEEP: usize = 64 << 10;

thread_local! {
    static CALL_ARGS: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer for a call's arguments, empty, taken
/// out for the call and put back after: a call allocates nothing for its
/// arguments once it has grown. A call made while it is out (from inside
/// a `Serialize` impl) gets a new one.
pub(crate) fn with_args_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut args = CALL_ARGS.take();
    args.clear();
    let out = f(&mut args);
    if args.capacity() <= CALL_BUFFER_KEEP {
        CALL_ARGS.set(args);
    }
    out
}

/// Appends to `buf` the encoding of `value` for the server (see
/// [`to_bytes`]) as a byte string: its length as a varint, then its bytes,
/// which is what encoding `value` and then encoding those bytes as
/// `serde_bytes::Bytes` gives, in one pass and without a copy. A managed
/// dict's key and value travel so, the server keeping them as bytes.
///
/// The value is encoded after a one-byte length (an encoding under 128
/// bytes, the common case), and moved right only if its length needs more.
/// On an error `buf` is as it was.
pub(crate) fn append_as_bytes<T: Serialize + ?Sized>(
    value: &T,
    buf: &mut Vec<u8>,
) -> Result<(), ManagerError> {
    let start = buf.len();
    buf.push(0);
    let fds = match serializing_to(Destination::Server, || mp_wire::encode_to_sink(value, buf)) {
        Ok(fds) => fds,
        Err(e) => {
            buf.truncate(start);
            return Err(e.into());
        }
    };
    if !fds.is_empty() {
        buf.truncate(start);
        return Err(ManagerError::HoldsFds);
    }
    let len = buf.len() - start - 1;
    if len < 0x80 {
        buf[start] = len as u8;
    } else {
        let mut varint = [0u8; 10];
        let prefix = postcard::to_slice(&(len as u64), &mut varint)
            .map_err(|e| ManagerError::Encode(mp_wire::EncodeError::Serialize(e)))?;
        buf.splice(start..=start, prefix.iter().copied());
    }
    Ok(())
}

/// Decodes the whole of `bytes` as a `T` (no trailing bytes allowed), with
/// `mp_wire::decode`'s errors.
pub(crate) fn from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(DecodeError::TrailingBytes { count: rest.len() }),
        Err(e) => Err(DecodeError::Deserialize(e)),
    }
}

/// Server side: decodes a method's arguments, or a protocol error. They
/// may borrow from `bytes` (a key looked up as `&serde_bytes::Bytes` costs
/// no copy).
pub(crate) fn args<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    method: &str,
) -> Result<T, RemoteError> {
    from_bytes(bytes)
        .map_err(|e| RemoteError::protocol(format!("bad arguments for '{method}': {e}")))
}

thread_local! {
    /// The bytes of the last result this server thread sent
    /// ([`recycle_result`]), for the next [`ret`] to encode into.
    static RESULT_BYTES: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Server side: encodes a method's result, into the bytes of the last
/// result this thread sent if they were given back ([`recycle_result`]):
/// a call then allocates and frees nothing for its result (about 300
/// instructions of a manager dict's `set` and `get`).
pub(crate) fn ret<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, RemoteError> {
    mp_wire::encode_into(value, RESULT_BYTES.take())
        .map(|m| m.bytes)
        .map_err(|e| RemoteError::protocol(format!("cannot encode the result: {e}")))
}

/// Server side: gives back a result's bytes once sent, for this thread's
/// next [`ret`]; kept only up to [`CALL_BUFFER_KEEP`] (one large result
/// does not stay resident for the life of the connection).
pub(crate) fn recycle_result(bytes: Vec<u8>) {
    if bytes.capacity() <= CALL_BUFFER_KEEP {
        RESULT_BYTES.set(bytes);
    }
}

/// Who calls an owned primitive (RLock, Condition): a random number naming
/// this program run, the pid (so a forked child is someone else) and the
/// calling thread. Python uses the connection's server thread; connections
/// here are pooled, so the caller names itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Owner {
    pub(crate) run: u64,
    pub(crate) pid: u32,
    pub(crate) thread: u32,
}

impl Owner {
    /// The calling thread of this process.
    pub(crate) fn current() -> Owner {
        use std::sync::atomic::{AtomicU64, Ordering};
        // Lock-free, so `fork` cannot leave it locked.
        static RUN: AtomicU64 = AtomicU64::new(0);
        let mut run = RUN.load(Ordering::Acquire);
        if run == 0 {
            // An identity tag, not a secret: it tells this run's (pid, tid)
            // apart from a later process that reuses the pid. Without entropy
            // it is the pid, which still names the owner, only without that
            // protection against pid reuse.
            let fresh =
                crate::random::random_u64().unwrap_or(u64::from(mp_sys::process::getpid())) | 1;
            run = match RUN.compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => fresh,
                Err(existing) => existing,
            };
        }
        Owner {
            run,
            pid: mp_sys::process::getpid(),
            thread: mp_sys::process::gettid(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ref_decodes_as_request() {
        let bytes = mp_wire::encode(&RequestRef {
            object: 7,
            method: "get",
            args: &[1, 2, 3],
        })
        .unwrap()
        .bytes;
        let r: Request = from_bytes(&bytes).unwrap();
        assert_eq!(
            (r.object, r.method.as_str(), &r.args[..]),
            (7, "get", &[1, 2, 3][..])
        );
        assert!(from_bytes::<u8>(&[1, 2]).is_err());
    }

    #[test]
    fn an_object_id_travels_as_its_16_bytes() {
        let id = u128::MAX - 5;
        let bytes = to_bytes(&RequestRef {
            object: id,
            method: "m",
            args: &[],
        })
        .unwrap();
        assert_eq!(bytes[0], 16, "a byte string of 16");
        assert_eq!(&bytes[1..17], &id.to_le_bytes());
        let r: Request = from_bytes(&bytes).unwrap();
        assert_eq!(r.object, id);
        // An id of another length is refused.
        let mut short = bytes.into_vec();
        short[0] = 15;
        short.remove(1);
        assert!(from_bytes::<Request>(&short).is_err());
    }

    #[test]
    fn fds_are_refused() {
        let fd = mp_wire::SharedFd::from(mp_sys::fd::devnull().unwrap());
        assert!(matches!(to_bytes(&fd), Err(ManagerError::HoldsFds)));
        assert_eq!(&to_bytes(&5u8).unwrap()[..], &[5]);
        let mut buf = vec![9];
        assert!(matches!(
            append_as_bytes(&fd, &mut buf),
            Err(ManagerError::HoldsFds)
        ));
        assert_eq!(buf, [9], "left as it was");
    }

    #[test]
    fn a_result_is_encoded_into_the_last_one_given_back_unless_it_was_large() {
        let first = ret(&vec![1u8; 40]).unwrap();
        let at = first.as_ptr();
        recycle_result(first);
        let second = ret(&7u32).unwrap();
        assert_eq!(second, [7]);
        assert_eq!(second.as_ptr(), at, "the same allocation");
        // Not given back: the next result has bytes of its own.
        assert_eq!(ret(&8u32).unwrap(), [8]);
        recycle_result(Vec::with_capacity(CALL_BUFFER_KEEP + 1));
        assert!(ret(&()).unwrap().capacity() <= CALL_BUFFER_KEEP);
    }

    #[test]
    fn the_args_buffer_is_kept_and_a_nested_call_gets_its_own() {
        let at = with_args_buffer(|args| {
            args.extend_from_slice(b"outer");
            with_args_buffer(|nested| assert!(nested.is_empty(), "not the outer's"));
            args.as_ptr()
        });
        with_args_buffer(|args| {
            assert!(args.is_empty(), "emptied for the next call");
            assert_eq!(args.as_ptr(), at, "the same allocation");
        });
    }

    #[test]
    fn append_as_bytes_is_the_encoding_of_the_encoding_as_bytes() {
        fn twice<T: Serialize>(value: &T) -> Vec<u8> {
            let inner = to_bytes(value).unwrap();
            mp_wire::encode(serde_bytes::Bytes::new(&inner))
                .unwrap()
                .bytes
        }
        // Lengths on both sides of a one-byte varint, and past two bytes.
        for len in [0usize, 1, 126, 127, 128, 300, 20_000] {
            let value = (7u8, "x".repeat(len));
            let mut buf = vec![1, 2];
            append_as_bytes(&value, &mut buf).unwrap();
            append_as_bytes(&5u32, &mut buf).unwrap();
            let mut expected = vec![1, 2];
            expected.extend(twice(&value));
            expected.extend(twice(&5u32));
            assert_eq!(buf, expected, "{len}");
        }
        // As the server reads a pair.
        let mut buf = Vec::new();
        append_as_bytes(&"key", &mut buf).unwrap();
        append_as_bytes(&[9u64; 3], &mut buf).unwrap();
        let (k, v): (&serde_bytes::Bytes, &serde_bytes::Bytes) = from_bytes(&buf).unwrap();
        assert_eq!(k.to_vec(), to_bytes(&"key").unwrap().into_vec());
        assert_eq!(v.to_vec(), to_bytes(&[9u64; 3]).unwrap().into_vec());
    }
}
