//! [`Connection`]: one end of a [`pipe`] or of a socket from a
//! [`Listener`](crate::Listener) — messages of serde values or raw bytes,
//! with fds passed beside them. What carries the bytes is in
//! [`transport`](crate::transport).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mp_sys::socket;
use mp_wire::{Frame, FrameEncoder, Limits, Message, SharedFd, MAX_FDS_PER_FRAME};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::deadline::Deadline;
use crate::error::{RecvError, RecvIntoError, SendError};
use crate::process_local::ProcessLocal;
use crate::reader::{Reader, Wait};
use crate::scratch;
use crate::transport::{Transport, Wire};

/// One end of a message channel — over pipes (ends made by [`pipe`]) or a
/// Unix or TCP stream socket (a [`Listener`](crate::Listener)'s, or
/// [`from_fd`](Self::from_fd)): Python's `multiprocessing.connection.Connection`.
///
/// Every message keeps its boundaries (an empty message is a message).
/// [`send`](Self::send) / [`recv`](Self::recv) carry serde values (postcard
/// encoded; fds inside them — [`mp_wire::SharedFd`], and so other
/// connections, shared memory, locks, queues — travel with `SCM_RIGHTS`);
/// [`send_bytes`](Self::send_bytes) / [`recv_bytes`](Self::recv_bytes) carry
/// raw bytes. A connection is itself serde: sent through another connection,
/// a queue, or as a [`Process`](https://docs.rs/mp-process) argument, it
/// arrives as a working end of the same channel.
///
/// All methods take `&self`; sends are serialized by an internal lock and so
/// are receives, so a connection may be shared between threads, though (as
/// in Python) one reader and one writer per end is the usual design. For a
/// reader thread and a writer thread that each own a handle, see
/// [`try_clone`](Self::try_clone).
///
/// ```
/// let (a, b) = mp_channel::pipe(true)?;
/// a.send(&("hello", 42u32))?;
/// let (text, n): (String, u32) = b.recv()?;
/// assert_eq!((text.as_str(), n), ("hello", 42));
/// b.send_bytes(b"")?;                       // empty messages are messages
/// assert!(a.poll(Some(std::time::Duration::ZERO))?);
/// assert_eq!(a.recv_bytes(None)?, b"");
/// drop(b);
/// assert!(matches!(a.recv::<u32>(), Err(mp_channel::RecvError::Eof)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) limits: Limits,
}

/// What every handle of one end ([`Connection::try_clone`]) shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) transport: Transport,
    /// The receiving and sending state of the process that made the end;
    /// a forked child that reaches it through copies of the parent's
    /// handles has its own ([`ProcessLocal::local`]).
    pub(crate) ends: ProcessLocal<Ends>,
    /// Set once a receive error left the stream out of step (the reader
    /// knows why; this is readable without its lock).
    pub(crate) recv_broken: AtomicBool,
}

/// One process's receiving and sending state of an end.
///
/// A process forked from the maker copies it: locks that another thread
/// of the parent may have held at the fork (a thread waiting in `recv`
/// holds the reader's), locked for ever in the child, and bytes the
/// parent's reader had taken in, which are the parent's. So a forked
/// child uses an `Ends` of its own, made without a lock on its first use
/// and chained to the copy ([`ProcessLocal`], as a queue's feeder is, see
/// `queue::feeder`).
#[derive(Debug, Default)]
pub(crate) struct Ends {
    pub(crate) reader: Mutex<Reader>,
    pub(crate) writer: Mutex<Writer>,
}

/// The sending half's state: what [`Connection`] keeps under its writer
/// lock and an [`ExclusiveConnection`](crate::ExclusiveConnection) owns.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    /// `true` once a send stopped mid-message.
    broken: bool,
    /// Headers (and, for a batch, whole frames) of the write in progress;
    /// kept so sending does not allocate.
    frames: FrameEncoder,
}

/// Frames up to this size are copied into one buffer by
/// [`Connection::send_many`] when more than one go together; larger ones,
/// and one that goes alone, are written from where they are.
const BATCH_COPY_MAX: usize = 16 * 1024;

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("transport", &self.shared.transport)
            .finish()
    }
}

/// Locks a mutex, ignoring poisoning (the state stays consistent: a panic
/// inside can only come from the allocator).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connection {
    /// Wraps a connected stream socket (Unix or TCP) as a duplex connection.
    pub fn from_fd(fd: OwnedFd) -> Connection {
        Connection::new(Transport::Socket {
            fd: SharedFd::from(fd),
            readable: true,
            writable: true,
        })
    }

    /// An end on `transport`.
    fn new(transport: Transport) -> Connection {
        Connection {
            shared: Arc::new(Shared {
                transport,
                ends: ProcessLocal::new(Ends::default()),
                recv_broken: AtomicBool::new(false),
            }),
            limits: Limits::default(),
        }
    }

    /// A second handle to this end, for example one for a reader thread and
    /// one for a writer thread (Rust's `TcpStream::try_clone`).
    ///
    /// The handles share everything but their limits
    /// ([`set_max_message`](Self::set_max_message),
    /// [`set_max_depth`](Self::set_max_depth), copied at the clone): the
    /// fds, the receive buffer and the send side. So messages sent through
    /// both never interleave, a message is received by exactly one of them
    /// (whichever asks first) and never split between them, and an error
    /// that leaves the stream unusable does so for both. The end closes
    /// when the last handle is dropped ([`close`](Self::close) drops only
    /// its own handle).
    ///
    /// ```
    /// let (a, b) = mp_channel::pipe(true)?;
    /// let writer = a.try_clone()?;
    /// std::thread::spawn(move || writer.send(&"from the other handle").unwrap());
    /// assert_eq!(b.recv::<String>()?, "from the other handle");
    /// b.send(&1u8)?;
    /// assert_eq!(a.recv::<u8>()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// None today: the handles share one set of fds rather than duplicate
    /// them. The `Result` is std's `try_clone` shape.
    pub fn try_clone(&self) -> io::Result<Connection> {
        Ok(Connection {
            shared: Arc::clone(&self.shared),
            limits: self.limits,
        })
    }

    /// Whether this end can receive: `false` for the write end of a one-way
    /// pipe, and (as in Python) once a receive error left the stream
    /// unusable — a message longer than `recv_bytes`' maximum or
    /// [`max_message`](Self::max_message), a malformed or truncated frame.
    pub fn readable(&self) -> bool {
        self.shared.transport.readable() && !self.shared.recv_broken.load(Ordering::Relaxed)
    }

    /// Whether this end can send (`false` for the read end of a one-way pipe).
    pub fn writable(&self) -> bool {
        self.shared.transport.writable()
    }

    /// The fd that shows whether a message is waiting (Python's
    /// `fileno()`), e.g. for [`wait`](crate::wait()) or `poll(2)`: the
    /// socket, or for an end made by [`pipe`] the pipe it receives on (the
    /// one it sends on if it only sends). Only poll it; reading or writing
    /// it directly would put the stream out of step.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.shared.transport.main_fd()
    }

    /// The largest message this end accepts, in bytes (default 1 GiB).
    pub fn max_message(&self) -> usize {
        self.limits.max_frame
    }

    /// Sets the largest message this end accepts. A longer message fails
    /// with [`RecvError::TooLarge`] before any of it is read or allocated.
    pub fn set_max_message(&mut self, max: usize) {
        self.limits.max_frame = max;
    }

    /// The deepest nesting [`recv`](Self::recv) decodes, in levels (default
    /// [`Limits::DEFAULT_MAX_DEPTH`]; see [`Limits::max_depth`]).
    pub fn max_depth(&self) -> usize {
        self.limits.max_depth
    }

    /// Sets the deepest nesting [`recv`](Self::recv) decodes. A deeper value
    /// fails with [`RecvError::Decode`]`(`[`DecodeError::TooDeep`](mp_wire::DecodeError::TooDeep)`)`
    /// instead of overflowing the stack; the connection stays usable.
    /// Raise it only for trusted peers and threads with stack to match.
    pub fn set_max_depth(&mut self, levels: usize) {
        self.limits.max_depth = levels;
    }

    /// Closes this end (Python's `close()`; dropping does the same). With
    /// other handles from [`try_clone`](Self::try_clone), closes only this
    /// handle: the end stays open until the last one goes.
    pub fn close(self) {}

    /// Sends `value` as one message, blocking while the socket buffer is full.
    ///
    /// # Errors
    /// [`SendError::Encode`] (nothing sent), [`SendError::Disconnected`] if
    /// the peer closed its end, [`SendError::NotWritable`], OS errors.
    pub fn send<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), SendError> {
        self.send_encoded(value, None)
    }

    /// Like [`send`](Self::send), giving up after `timeout`.
    ///
    /// # Errors
    /// As `send`, plus [`SendError::Timeout`]; a timeout in the middle of a
    /// message makes the connection unusable for sending.
    pub fn send_timeout<T: Serialize + ?Sized>(
        &self,
        value: &T,
        timeout: Duration,
    ) -> Result<(), SendError> {
        self.send_encoded(value, Some(timeout))
    }

    /// Encodes `value` into this thread's encode buffer (no allocation once
    /// it has grown) and sends it as one frame.
    fn send_encoded<T: Serialize + ?Sized>(
        &self,
        value: &T,
        timeout: Option<Duration>,
    ) -> Result<(), SendError> {
        with_encoded(value, |msg| self.send_message(msg, timeout))
    }

    /// Sends an encoded message (bytes and fds) as one frame.
    ///
    /// # Errors
    /// As [`send_timeout`](Self::send_timeout).
    pub fn send_message(&self, msg: &Message, timeout: Option<Duration>) -> Result<(), SendError> {
        let fds: Vec<BorrowedFd<'_>> = msg.fds.iter().map(AsFd::as_fd).collect();
        self.send_frame(&msg.bytes, &fds, Deadline::after(timeout))
    }

    /// Sends `bytes` as one message (Python's `send_bytes`; slice the buffer
    /// for its `offset`/`size`).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), SendError> {
        self.send_frame(bytes, &[], Deadline::after(None))
    }

    /// Sends the bytes of a slice of plain values as one message — a typed
    /// array, as Python's `send_bytes` takes an `array.array` or any buffer.
    /// The bytes are the values' in-memory representation (native byte
    /// order); the receiver reads them with
    /// [`recv_bytes_into_slice`](Self::recv_bytes_into_slice), or
    /// [`recv_bytes`](Self::recv_bytes) and `bytemuck::pod_read_unaligned`.
    ///
    /// ```
    /// let (a, b) = mp_channel::pipe(true)?;
    /// a.send_slice(&[1.5f64, -2.0, 1e300])?;
    /// let mut got = [0f64; 4];
    /// let len = b.recv_bytes_into_slice(&mut got, 0)?;     // bytes, as in Python
    /// assert_eq!((len, &got[..3]), (24, &[1.5, -2.0, 1e300][..]));
    ///
    /// a.send_slice(&[7u32, 8])?;                           // length not known ahead
    /// let bytes = b.recv_bytes(None)?;
    /// let any: Vec<u32> = bytes.chunks_exact(4).map(bytemuck::pod_read_unaligned).collect();
    /// assert_eq!(any, [7, 8]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`send_bytes`](Self::send_bytes).
    pub fn send_slice<T: bytemuck::NoUninit>(&self, values: &[T]) -> Result<(), SendError> {
        self.send_bytes(bytemuck::cast_slice(values))
    }

    /// Like [`send_bytes`](Self::send_bytes), giving up after `timeout`.
    ///
    /// # Errors
    /// As [`send_timeout`](Self::send_timeout).
    pub fn send_bytes_timeout(&self, bytes: &[u8], timeout: Duration) -> Result<(), SendError> {
        self.send_frame(bytes, &[], Deadline::after(Some(timeout)))
    }

    /// Receives one message and decodes it as a `T`, blocking until one
    /// arrives or the peer closes its end. The message is decoded where it
    /// was read, before this end takes the next receive (another thread's
    /// waits meanwhile).
    ///
    /// # Errors
    /// [`RecvError::Eof`] once the peer closed and nothing is left;
    /// [`RecvError::Decode`] if the message is not a `T` or nests deeper
    /// than [`max_depth`](Self::max_depth) (the connection stays usable);
    /// [`RecvError::Truncated`], [`RecvError::Malformed`],
    /// [`RecvError::TooLarge`] for a broken stream; OS errors.
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T, RecvError> {
        self.recv_decoded(Deadline::after(None))
    }

    /// Like [`recv`](Self::recv), giving up after `timeout` with
    /// [`RecvError::Timeout`] (the connection stays usable).
    ///
    /// # Errors
    /// As `recv`, plus `Timeout`.
    pub fn recv_timeout<T: DeserializeOwned>(&self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_decoded(Deadline::after(Some(timeout)))
    }

    /// Receives one message by `deadline` and decodes it.
    fn recv_decoded<T: DeserializeOwned>(&self, deadline: Deadline) -> Result<T, RecvError> {
        self.read_decoded(Wait::Until(deadline))?
            .ok_or(RecvError::Timeout)
    }

    /// Receives one message, waiting as `wait` says, and decodes it where
    /// it lies in the read buffer (no copy into a [`Message`] of its own
    /// first); `None` if none came. The value is decoded with this end's
    /// reader lock held: a `Deserialize` impl that received on the same
    /// connection would wait for itself (none in the workspace does).
    pub(crate) fn read_decoded<T: DeserializeOwned>(
        &self,
        wait: Wait,
    ) -> Result<Option<T>, RecvError> {
        let limits = &self.limits;
        let decoded = self.read_map(usize::MAX, wait, |frame| {
            mp_wire::decode_from_with_limits(&frame.bytes, frame.fds, limits)
        })?;
        Ok(decoded.transpose()?)
    }

    /// Receives one message (waiting at most `timeout`; `None`: for ever)
    /// and returns what `f` makes of its bytes and fds, lent where they
    /// lie in this end's read buffer: for decoding into a type that
    /// borrows from the bytes, or with a format of the caller's, without
    /// copying the message out first (a message larger than the buffer is
    /// lent from its own allocation). `f` runs while this end's receiving
    /// is held: other threads receiving on it wait for `f`, and `f` must
    /// not receive on it itself.
    ///
    /// ```
    /// let (a, b) = mp_channel::pipe(true)?;
    /// a.send(&("job", 7u32))?;
    /// // Borrow the text instead of allocating a `String` for it.
    /// let n = b.recv_with(None, |bytes, fds| {
    ///     let seed = std::marker::PhantomData::<(&str, u32)>;
    ///     let (name, n) = mp_wire::decode_seed(bytes, fds, seed)?;
    ///     assert_eq!(name, "job");
    ///     Ok::<u32, mp_wire::DecodeError>(n)
    /// })??;
    /// assert_eq!(n, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`recv_message`](Self::recv_message).
    pub fn recv_with<R>(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce(&[u8], Vec<OwnedFd>) -> R,
    ) -> Result<R, RecvError> {
        let mut f = Some(f);
        // `read_map` hands over at most one frame.
        let made = self.read_map(usize::MAX, Wait::Until(Deadline::after(timeout)), |frame| {
            f.take().map(|f| f(&frame.bytes, frame.fds))
        })?;
        made.flatten().ok_or(RecvError::Timeout)
    }

    /// Receives one message undecoded (bytes plus fds).
    ///
    /// # Errors
    /// As [`recv_timeout`](Self::recv_timeout), without decode errors.
    pub fn recv_message(&self, timeout: Option<Duration>) -> Result<Message, RecvError> {
        self.recv_frame(usize::MAX, Deadline::after(timeout))
    }

    /// Receives one message as bytes (Python's `recv_bytes(maxlength)`).
    ///
    /// # Errors
    /// A message longer than `max` is [`RecvError::TooLarge`] and, as in
    /// Python, leaves the connection unusable for receiving
    /// ([`readable`](Self::readable) turns `false`); otherwise as
    /// [`recv`](Self::recv).
    pub fn recv_bytes(&self, max: Option<usize>) -> Result<Vec<u8>, RecvError> {
        Ok(self
            .recv_frame(max.unwrap_or(usize::MAX), Deadline::after(None))?
            .bytes)
    }

    /// Like [`recv_bytes`](Self::recv_bytes), giving up after `timeout`.
    ///
    /// # Errors
    /// As `recv_bytes`, plus [`RecvError::Timeout`].
    pub fn recv_bytes_timeout(
        &self,
        max: Option<usize>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RecvError> {
        Ok(self
            .recv_frame(max.unwrap_or(usize::MAX), Deadline::after(Some(timeout)))?
            .bytes)
    }

    /// Receives one message into `buf` at `offset` and returns its length
    /// (Python's `recv_bytes_into`).
    ///
    /// ```
    /// let (a, b) = mp_channel::pipe(true)?;
    /// a.send_bytes(b"0123456789")?;
    /// let mut small = [0u8; 4];
    /// let err = b.recv_bytes_into(&mut small, 0).unwrap_err();
    /// assert_eq!(err.into_message().unwrap(), b"0123456789"); // consumed, handed back
    /// a.send_bytes(b"ok")?;
    /// assert_eq!(b.recv_bytes_into(&mut small, 1)?, 2);     // still usable
    /// assert_eq!(&small[1..3], b"ok");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`RecvIntoError::OffsetTooLarge`] (nothing received);
    /// [`RecvIntoError::BufferTooShort`] with the whole message if it does
    /// not fit — the connection stays usable; else as [`recv`](Self::recv).
    pub fn recv_bytes_into(&self, buf: &mut [u8], offset: usize) -> Result<usize, RecvIntoError> {
        if offset > buf.len() {
            return Err(RecvIntoError::OffsetTooLarge {
                offset,
                len: buf.len(),
            });
        }
        let room = &mut buf[offset..];
        // Copied straight from where it was read (no `Message` first).
        let mut room = Some(room);
        let copied = self.read_map(usize::MAX, Wait::Until(Deadline::after(None)), |frame| {
            let room = room.take().unwrap_or_default();
            match room.get_mut(..frame.bytes.len()) {
                Some(into) => {
                    into.copy_from_slice(&frame.bytes);
                    Ok(frame.bytes.len())
                }
                None => Err(frame.bytes.into_owned()),
            }
        })?;
        match copied {
            Some(Ok(len)) => Ok(len),
            Some(Err(message)) => Err(RecvIntoError::BufferTooShort(message)),
            None => Err(RecvError::Timeout.into()),
        }
    }

    /// Receives one message into the bytes of a slice of plain values
    /// (Python's `recv_bytes_into` with an `array.array`): `offset` and the
    /// returned length count bytes, as in Python, so a message need not be
    /// a whole number of values. The slice keeps its type and so its
    /// alignment; the message is copied into its bytes.
    ///
    /// See [`send_slice`](Self::send_slice) for an example.
    ///
    /// # Errors
    /// As [`recv_bytes_into`](Self::recv_bytes_into), with `offset` and
    /// lengths in bytes.
    pub fn recv_bytes_into_slice<T: bytemuck::Pod>(
        &self,
        values: &mut [T],
        offset: usize,
    ) -> Result<usize, RecvIntoError> {
        // Any `Pod` slice is whole bytes (a zero-sized `T`, none), and bytes
        // need no alignment: this cast cannot fail.
        self.recv_bytes_into(bytemuck::cast_slice_mut(values), offset)
    }

    /// Sends `msgs` in order, with as few writes as possible: small messages
    /// are laid out in one buffer and go out together (one `sendmsg` or
    /// `write` per run), a message with fds starts a new write (its fds are
    /// attached to that write's first byte) and a large one is written from
    /// where it is. Blocks while the socket or pipe is full.
    ///
    /// Batching keeps each frame whole, so the peer receives the same
    /// messages as from as many [`send_message`](Self::send_message) calls.
    ///
    /// ```
    /// use mp_wire::Message;
    /// let (a, b) = mp_channel::pipe(true)?;
    /// let msgs: Vec<Message> = (0u8..3).map(|i| Message::from_bytes(vec![i; 3])).collect();
    /// a.send_many(&msgs)?;
    /// for i in 0u8..3 {
    ///     assert_eq!(b.recv_message(None)?.bytes, [i; 3]);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`send`](Self::send) (except encoding); [`SendError::TooManyFds`]
    /// before anything is written. After another error an unknown prefix of
    /// `msgs` was sent.
    pub fn send_many(&self, msgs: &[Message]) -> Result<(), SendError> {
        if !self.writable() {
            return Err(SendError::NotWritable);
        }
        lock(&self.shared.ends.local().writer).send_many(&self.shared.transport, msgs)
    }

    /// The next message if one has already been read into this end's
    /// buffer (by an earlier receive that took in several), without a
    /// system call; `None` if no whole message is buffered.
    ///
    /// # Errors
    /// [`RecvError::NotReadable`], and as [`recv_message`](Self::recv_message)
    /// for a broken stream.
    pub fn try_recv_buffered(&self) -> Result<Option<Message>, RecvError> {
        self.read(usize::MAX, Wait::Buffered)
    }

    /// The next message if it has arrived, reading what is there without
    /// waiting (one read takes in every message that has arrived, up to the
    /// buffer's size); `None` if no whole message has arrived yet.
    ///
    /// # Errors
    /// [`RecvError::Eof`] once the peer closed and nothing is left; else as
    /// [`recv_message`](Self::recv_message), without timeouts.
    pub fn try_recv_message(&self) -> Result<Option<Message>, RecvError> {
        self.read(usize::MAX, Wait::No)
    }

    /// Whether a message (or the end of the stream) can be read now, waiting
    /// at most `timeout` for it (`Some(Duration::ZERO)`: don't wait; `None`:
    /// forever). Never consumes anything.
    ///
    /// # Errors
    /// [`RecvError::NotReadable`] if this end is not [`readable`](Self::readable)
    /// (a send-only end, or one an earlier error left unusable); OS errors.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, RecvError> {
        if !self.readable() {
            return Err(RecvError::NotReadable);
        }
        if self.has_buffered() {
            return Ok(true);
        }
        socket::poll_readable(self.as_fd(), timeout).map_err(RecvError::Io)
    }

    /// How many bytes this end can send before a send waits for the
    /// reader: the buffer of the pipe it sends on (see [`pipe`]); `None`
    /// for a socket or a receive-only end.
    pub fn send_capacity(&self) -> Option<usize> {
        self.shared.transport.send_capacity()
    }

    /// Whether received bytes wait in this end's buffer (so the socket alone
    /// would not show it readable): an earlier receive took in more than
    /// the message it returned. No system call.
    pub fn has_buffered(&self) -> bool {
        lock(&self.shared.ends.local().reader).has_buffered()
    }

    /// Writes `head` then `body` as they are, outside the frame layout (a
    /// handshake in CPython's framing, before the first frame).
    pub(crate) fn write_raw(
        &self,
        head: &[u8],
        body: &[u8],
        deadline: Deadline,
    ) -> Result<(), SendError> {
        if !self.writable() {
            return Err(SendError::NotWritable);
        }
        let mut writer = lock(&self.shared.ends.local().writer);
        if writer.broken {
            return Err(SendError::Unusable);
        }
        self.shared
            .transport
            .write_frame(head, body, &[], deadline, &mut writer.broken)
    }

    /// One read of at most `buf.len()` bytes, outside the frame layout (a
    /// handshake in CPython's framing, before the first frame): waiting
    /// until `deadline`, or with `None` only taking what has arrived
    /// (`Ok(None)` if nothing has). `Ok(Some(0))` is end of stream.
    ///
    /// # Errors
    /// [`RecvError::Malformed`] if frame bytes are already buffered or fds
    /// arrive; [`RecvError::Timeout`]; OS errors.
    pub(crate) fn read_raw(
        &self,
        buf: &mut [u8],
        deadline: Option<Deadline>,
    ) -> Result<Option<usize>, RecvError> {
        let Some(src) = self.shared.transport.source() else {
            return Err(RecvError::NotReadable);
        };
        let reader = lock(&self.shared.ends.local().reader);
        if reader.has_buffered() {
            return Err(RecvError::Malformed(
                "handshake bytes after frame data was received".into(),
            ));
        }
        let received = match deadline {
            Some(deadline) => Some(src.read_some(buf, 0, deadline)?),
            None => src.read_now(buf, 0)?,
        };
        match received {
            Some(r) if r.fds_truncated || !r.fds.is_empty() => Err(RecvError::Malformed(
                "fds arrived with handshake bytes".into(),
            )),
            other => Ok(other.map(|r| r.bytes)),
        }
    }

    /// What carries this end's bytes (for the async forms in
    /// `connection_async`).
    #[cfg(feature = "async")]
    pub(crate) fn transport(&self) -> &Transport {
        &self.shared.transport
    }

    fn recv_frame(&self, max: usize, deadline: Deadline) -> Result<Message, RecvError> {
        self.read(max, Wait::Until(deadline))?
            .ok_or(RecvError::Timeout)
    }

    /// Receives with the reader lock held, waiting as `wait` says.
    fn read(&self, max: usize, wait: Wait) -> Result<Option<Message>, RecvError> {
        self.read_map(max, wait, |f| f.into_message())
    }

    /// [`read`](Self::read), handing the frame to `map` under the reader
    /// lock (see [`Reader::recv`](crate::reader::Reader::recv)).
    fn read_map<R>(
        &self,
        max: usize,
        wait: Wait,
        map: impl FnMut(Frame<'_>) -> R,
    ) -> Result<Option<R>, RecvError> {
        let Some(src) = self.shared.transport.source() else {
            return Err(RecvError::NotReadable);
        };
        let result = lock(&self.shared.ends.local().reader).recv(src, &self.limits, max, wait, map);
        if let Err(e) = &result {
            if e.is_fatal() {
                self.shared.recv_broken.store(true, Ordering::Relaxed);
            }
        }
        result
    }

    fn send_frame(
        &self,
        payload: &[u8],
        fds: &[BorrowedFd<'_>],
        deadline: Deadline,
    ) -> Result<(), SendError> {
        if !self.writable() {
            return Err(SendError::NotWritable);
        }
        check_fds(fds.len())?;
        lock(&self.shared.ends.local().writer).send_frame(
            &self.shared.transport,
            payload,
            fds,
            deadline,
        )
    }
}

impl Writer {
    /// Writes one frame, `payload` with `fds` (at most [`MAX_FDS_PER_FRAME`]),
    /// on `transport`, which can send.
    pub(crate) fn send_frame(
        &mut self,
        transport: &Transport,
        payload: &[u8],
        fds: &[BorrowedFd<'_>],
        deadline: Deadline,
    ) -> Result<(), SendError> {
        let Writer { broken, frames } = self;
        if *broken {
            return Err(SendError::Unusable);
        }
        frames.clear();
        frames
            .push_header(payload.len(), fds.len())
            .map_err(|_| too_many_fds(fds.len()))?;
        transport.write_frame(frames.as_bytes(), payload, fds, deadline, broken)
    }

    /// [`Connection::send_many`] on `transport`, which can send.
    pub(crate) fn send_many(
        &mut self,
        transport: &Transport,
        msgs: &[Message],
    ) -> Result<(), SendError> {
        for msg in msgs {
            check_fds(msg.fds.len())?;
        }
        let Writer { broken, frames } = self;
        if *broken {
            return Err(SendError::Unusable);
        }
        let mut rest = msgs;
        while let Some((first, tail)) = rest.split_first() {
            let fds: Vec<BorrowedFd<'_>> = first.fds.iter().map(AsFd::as_fd).collect();
            frames.clear();
            let run = if first.bytes.len() > BATCH_COPY_MAX {
                0
            } else {
                tail.iter()
                    .take_while(|m| m.fds.is_empty() && m.bytes.len() <= BATCH_COPY_MAX)
                    .count()
            };
            if run == 0 {
                // A frame that goes alone is written from where it is.
                frames
                    .push_header(first.bytes.len(), fds.len())
                    .map_err(|_| too_many_fds(fds.len()))?;
                transport.write_frame(
                    frames.as_bytes(),
                    &first.bytes,
                    &fds,
                    Deadline::NEVER,
                    broken,
                )?;
                rest = tail;
                continue;
            }
            for m in std::iter::once(first).chain(&tail[..run]) {
                frames.push(m).map_err(|_| too_many_fds(m.fds.len()))?;
            }
            transport.write_frame(frames.as_bytes(), &[], &fds, Deadline::NEVER, broken)?;
            rest = &tail[run..];
        }
        Ok(())
    }
}

/// Runs `send` with `value` encoded in this thread's encode buffer (see
/// `scratch`), which it then gets back.
pub(crate) fn with_encoded<T: Serialize + ?Sized, R>(
    value: &T,
    send: impl FnOnce(&Message) -> Result<R, SendError>,
) -> Result<R, SendError> {
    let mut msg = Message::default();
    let sent = match scratch::encode(value, &mut msg) {
        Ok(()) => send(&msg),
        Err(e) => Err(e.into()),
    };
    scratch::recycle(msg.bytes);
    sent
}

/// Refuses more fds than one frame can carry.
pub(crate) fn check_fds(count: usize) -> Result<(), SendError> {
    if count > MAX_FDS_PER_FRAME {
        return Err(too_many_fds(count));
    }
    Ok(())
}

/// [`SendError::TooManyFds`] for `count` fds.
fn too_many_fds(count: usize) -> SendError {
    SendError::TooManyFds {
        count,
        max: MAX_FDS_PER_FRAME,
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl Serialize for Connection {
    /// Serializes duplicates of this end's fds (the copy cannot receive if
    /// this end is no longer [`readable`](Connection::readable)). Fails if
    /// this (readable) end holds received bytes not yet read (they would be
    /// lost to the copy): read them first.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let broken = self.shared.recv_broken.load(Ordering::Relaxed);
        // What a broken end holds is unreadable anyway.
        if !broken && self.has_buffered() {
            return Err(serde::ser::Error::custom(
                "cannot send a connection holding unread received data",
            ));
        }
        let mut wire = self.shared.transport.to_wire();
        if broken {
            // As Python's reduction does: the copy is as readable as this end.
            match &mut wire {
                Wire::Socket { readable, .. } => *readable = false,
                Wire::Pipe { rx, .. } => *rx = None,
            }
        }
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Connection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::<SharedFd>::deserialize(deserializer)?;
        Ok(Connection::new(Transport::from_wire(wire)))
    }
}

/// A connected pair (Python's `Pipe(duplex)`).
///
/// `duplex == true`: both ends send and receive. `duplex == false`: the
/// first end only receives and the second only sends, as in Python.
///
/// The bytes travel over pipes (one per direction), which is about twice
/// as fast as a socket for small messages; each end also holds one end of
/// a Unix socket that carries the fds of messages that have some. So a
/// duplex pair takes 6 fds (3 per end), a one-way pair 4. Both kinds carry
/// fds, and travel to other processes, like any connection. Each direction
/// buffers a pipe's capacity (64 KiB on Linux) before a send waits for the
/// reader.
///
/// As in Python, two processes must not send on the same end at the same
/// time (messages may interleave, and fds may go with the wrong message);
/// threads of one process may.
///
/// # Errors
/// The OS error of `pipe` or `socketpair` (out of fds).
#[doc(alias = "Pipe")]
pub fn pipe(duplex: bool) -> io::Result<(Connection, Connection)> {
    let (a, b) = Transport::pipe_pair(duplex)?;
    Ok((Connection::new(a), Connection::new(b)))
}

/// [`pipe`], with pipes that buffer at least `capacity` bytes each where
/// the system allows it (`fcntl(F_SETPIPE_SZ)`; above
/// `/proc/sys/fs/pipe-max-size`, or past the user's pipe-page allowance,
/// a pipe keeps its default). [`Connection::send_capacity`] tells what an
/// end got.
///
/// # Errors
/// As [`pipe`].
pub fn pipe_with_capacity(duplex: bool, capacity: usize) -> io::Result<(Connection, Connection)> {
    let (a, b) = Transport::pipe_pair(duplex)?;
    // Each pipe has one end on either side: growing one side's grows all.
    a.grow_pipes(capacity);
    Ok((Connection::new(a), Connection::new(b)))
}
