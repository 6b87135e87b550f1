// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! Rust's `std::sync::mpsc`, served by the `/dev/mpsc` kernel device.
//!
//! The API mirrors `std::sync::mpsc` closely enough that its examples
//! compile with only the import changed:
//!
//! ```no_run
//! use mpsc_dev as mpsc; // was: use std::sync::mpsc;
//! use std::thread;
//!
//! let (tx, rx) = mpsc::channel();
//! thread::spawn(move || {
//!     tx.send(String::from("Hello from the thread!")).unwrap();
//! });
//! println!("Received: {}", rx.recv().unwrap());
//! ```
//!
//! Because the kernel carries the messages, the two ends may also live in
//! different processes (an fd survives `fork()`, and travels over
//! `SCM_RIGHTS`), and the other end may be written in C, Python or Go.
//! Every handle is an fd: `AsFd`, `From<OwnedFd>` and `Into<OwnedFd>`
//! wrap an inherited or passed fd and hand one over.
//!
//! Messages cross the device as bytes: a type implements the codec trait
//! [`Message`] to say how.  It is implemented for `Vec<u8>`, `String`, the
//! integer and float types, `bool`, `char` and tuples; with the `serde`
//! feature, any serde type that opts in through [`Bincode`].
//!
//! Senders are messages too: a [`Sender`], [`SyncSender`] or tokio
//! `Sender` inside a message travels as a handle (the kernel carries a
//! sender role of its channel with the message), and comes out as a
//! working sender in the receiving process, so a request can carry its
//! reply channel across processes as it does between threads with `std`:
//!
//! ```no_run
//! use mpsc_dev as mpsc;
//!
//! let (tx, rx) = mpsc::channel::<(String, mpsc::Sender<String>)>();
//! // ... rx goes to a server process (fork), which answers each request:
//! # std::thread::spawn(move || {
//! for (text, reply) in rx {
//!     let _ = reply.send(text.to_uppercase());
//! }
//! # });
//! // A client asks, with a channel for the answer:
//! let (reply_tx, reply_rx) = mpsc::channel();
//! tx.send(("hello".to_string(), reply_tx)).unwrap();
//! assert_eq!(reply_rx.recv().unwrap(), "HELLO");
//! ```
//!
//! A handle in flight keeps its channel connected; one the receiver never
//! takes (the message dropped unreceived, received as a type without
//! senders, or not used by the decoded value) is closed, which may
//! disconnect its channel: a server that drops a request unanswered
//! disconnects its reply channel.  A receive asks the kernel to install
//! handles only when its type may hold a sender ([`Message::HANDLES`]:
//! senders, tuples containing one, and every `Bincode` type); the
//! installed fds are close-on-exec.  At most [`MAX_HANDLES`] senders per
//! message.
//!
//! Besides `std`'s API, crossbeam's: `send_timeout`, `send_deadline`,
//! `recv_deadline`, `try_send` on an unbounded sender, `len`, and
//! [`Select`] over receivers and senders.
//!
//! Differences from `std`, all forced by the device:
//! * `channel()` panics when `/dev/mpsc` cannot be opened (mpsc.ko not
//!   loaded, no fd left); [`try_channel`] returns the error instead, and
//!   [`Sender::try_clone`] is `clone()` without the panic on `EMFILE`.
//! * A send the kernel refuses for a reason other than the channel's state
//!   (`EMSGSIZE`, `ENOMEM`, `EDQUOT`, an empty or failed encoding) returns
//!   the message in an error value that says why
//!   ([`SendError::io_error`], [`TrySendError::Io`]).
//! * A message is at least one byte long, and at most the channel's
//!   `max_msg_size` (64 KiB by default).
//! * Receiving bytes that do not decode as `T` (a foreign sender speaking
//!   another format) panics with the message's length and `T`.
//! * A message with sender handles that cannot be installed (`EMFILE`:
//!   no fd left) makes the receive panic, saying so; the message stays
//!   queued, and a receive with an fd free takes it.
//!
//! The [`tokio`] module (feature `tokio`, on by default) has tokio's
//! bounded channel, with `Stream` under the `stream` feature.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

mod codec;
mod error;
mod select;
mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;

#[cfg(feature = "serde")]
pub use codec::Bincode;
pub use codec::{CodecError, Handles, Message, ReceivedHandles};
pub use error::{RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
pub use select::{
    SendHandle,
    ReadyTimeoutError, Select, SelectTimeoutError, SelectedOperation, TryReadyError, TrySelectError,
};
pub use sys::Info;

/// The most sender handles one message can carry (`MPSC_MAX_HANDLES`).
pub const MAX_HANDLES: usize = sys::MAX_HANDLES;

use codec::decode;
use error::{Cause, Fail};

/// A relative timeout for the kernel: `Duration` in nanoseconds, kept
/// below `MPSC_TIMEOUT_FOREVER`.
fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(sys::TIMEOUT_FOREVER - 1).min(sys::TIMEOUT_FOREVER - 1)
}

fn until(deadline: Instant) -> u64 {
    ns(deadline.saturating_duration_since(Instant::now()))
}

/// Encodes and sends `t` on `fd`, with the sender handles it holds,
/// waiting at most `timeout_ns`; on failure, `t` comes back with what
/// went wrong.  On success `t` is dropped: its senders' fds close here,
/// and their roles live on in the message.
pub(crate) fn send_value<T: Message>(fd: RawFd, t: T, timeout_ns: u64) -> Result<(), (T, Fail)> {
    let r = match codec::encode(&t) {
        Ok(m) => sys::send_msg(fd, &m.bytes, &m.fds, timeout_ns).map_err(Fail::from),
        Err(e) => Err(Fail::from(e)),
    };
    r.map_err(|f| (t, f))
}

/// Receives one message into the reused `buf`: `Ok(None)` at end of file.
/// Asks the kernel for the message's sender handles when `T` may hold
/// some.  An errno that no receiver can get (EBADF: the fd is a sender;
/// ENOTTY: not an mpsc fd) is a bug in the program, and panics saying so,
/// as does a message whose handles cannot be installed (EMFILE: it stays
/// queued).
pub(crate) fn recv_value<T: Message>(fd: RawFd, buf: &mut Vec<u8>, timeout_ns: u64) -> Result<Option<T>, Fail> {
    match sys::recv_msg(fd, buf, timeout_ns, T::HANDLES) {
        Ok(None) => Ok(None),
        Ok(Some(m)) => {
            let t = decode(m.payload(buf), m.fds);
            if buf.len() > SHRINK_RECV_BUF {
                *buf = Vec::new();
            }
            Ok(Some(t))
        }
        Err(e) => match Fail::from(e) {
            Fail::Io(e) => recv_failed(fd, e),
            f => Err(f),
        },
    }
}

/// A receive that failed for a reason other than the channel's state.
pub(crate) fn recv_failed(fd: RawFd, e: io::Error) -> ! {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOMEM) => panic!(
            "mpsc-dev: receive on fd {}: cannot install the sender handles of the message: {} \
             (it stays queued)",
            fd, e
        ),
        _ => panic!("mpsc-dev: receive on fd {}: {} (is it a receiver?)", fd, e),
    }
}

/// A receive buffer grown past this is given back after its message.
const SHRINK_RECV_BUF: usize = 1 << 20;

fn open_failed(e: io::Error) -> ! {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => {
            panic!("mpsc-dev: cannot open /dev/mpsc: {} (is mpsc.ko loaded?)", e)
        }
        _ => panic!("mpsc-dev: cannot create a channel: {}", e),
    }
}

pub(crate) fn clone_failed(e: io::Error) -> ! {
    panic!("mpsc-dev: cannot clone a sender: {}", e)
}

pub(crate) fn same_channel(a: RawFd, b: RawFd) -> bool {
    match (sys::info(a), sys::info(b)) {
        (Ok(x), Ok(y)) => x.id == y.id,
        _ => false,
    }
}

/// The fd traits every handle has: `AsFd`, `AsRawFd`, `From<OwnedFd>`
/// (wrap an inherited or passed fd), `From<handle> for OwnedFd` (hand the
/// fd over), `FromRawFd` and `IntoRawFd`.
macro_rules! fd_handle {
    ($name:ident, $s:ident => $fd:expr, $from:ident => $new:expr) => {
        impl<T> AsFd for $name<T> {
            fn as_fd(&self) -> BorrowedFd<'_> {
                let $s = self;
                $fd.as_fd()
            }
        }
        impl<T> AsRawFd for $name<T> {
            fn as_raw_fd(&self) -> RawFd {
                let $s = self;
                $fd.as_raw_fd()
            }
        }
        impl<T> From<OwnedFd> for $name<T> {
            /// Wraps an mpsc fd of the right kind (inherited, passed over
            /// a socket...); nothing is checked until it is used.
            fn from($from: OwnedFd) -> Self {
                $new
            }
        }
        impl<T> From<$name<T>> for OwnedFd {
            fn from(h: $name<T>) -> OwnedFd {
                h.into_fd()
            }
        }
        impl<T> FromRawFd for $name<T> {
            unsafe fn from_raw_fd(fd: RawFd) -> Self {
                Self::from(OwnedFd::from_raw_fd(fd))
            }
        }
        impl<T> IntoRawFd for $name<T> {
            fn into_raw_fd(self) -> RawFd {
                OwnedFd::from(self).into_raw_fd()
            }
        }
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("fd", &self.as_raw_fd()).finish()
            }
        }
    };
}
pub(crate) use fd_handle;

/// The sending half of a channel; `clone()` makes another sender.
pub struct Sender<T> {
    fd: OwnedFd,
    _t: PhantomData<T>,
}

/// The sending half of a bounded channel.
pub struct SyncSender<T> {
    inner: Sender<T>,
}

/// The receiving half of a channel.  It keeps one receive buffer, grown
/// to the largest message received: a receive allocates only the
/// message's own bytes.
pub struct Receiver<T> {
    fd: OwnedFd,
    buf: RefCell<Vec<u8>>,
    _t: PhantomData<T>,
}

fd_handle!(Sender, s => s.fd, fd => Sender { fd, _t: PhantomData });
fd_handle!(SyncSender, s => s.inner.fd, fd => SyncSender { inner: Sender::from(fd) });
fd_handle!(Receiver, s => s.fd, fd => Receiver { fd, buf: RefCell::new(Vec::new()), _t: PhantomData });

// A sender is itself a message: it travels as a handle.
codec::sender_message!(Sender<T>, "mpsc_dev::Sender", s => s.fd);
codec::sender_message!(SyncSender<T>, "mpsc_dev::SyncSender", s => s.inner.fd);

/// Like [`channel`], but returns the error instead of panicking.
pub fn try_channel<T: Message>() -> io::Result<(Sender<T>, Receiver<T>)> {
    let (tx, rx) = sys::open(None, false)?;
    Ok((Sender::from(tx), Receiver::from(rx)))
}

/// Creates a channel bounded by bytes only, `std::sync::mpsc::channel()`.
///
/// # Panics
/// When `/dev/mpsc` cannot be opened.
pub fn channel<T: Message>() -> (Sender<T>, Receiver<T>) {
    try_channel().unwrap_or_else(|e| open_failed(e))
}

/// Like [`sync_channel`], but returns the error instead of panicking.
pub fn try_sync_channel<T: Message>(bound: usize) -> io::Result<(SyncSender<T>, Receiver<T>)> {
    let (tx, rx) = sys::open(Some(bound as u64), false)?;
    Ok((SyncSender::from(tx), Receiver::from(rx)))
}

/// Creates a channel of at most `bound` queued messages,
/// `std::sync::mpsc::sync_channel(bound)`; 0 is a rendezvous channel.
///
/// # Panics
/// When `/dev/mpsc` cannot be opened.
pub fn sync_channel<T: Message>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    try_sync_channel(bound).unwrap_or_else(|e| open_failed(e))
}

impl<T> Sender<T> {
    fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// A snapshot of the channel.
    pub fn info(&self) -> io::Result<Info> {
        sys::info(self.fd.as_raw_fd())
    }

    /// `clone()` that returns the error (`EMFILE`...) instead of panicking.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Sender::from(sys::clone_sender(self.fd.as_raw_fd(), 0)?))
    }

    /// Whether `self` and `other` send to the same channel (crossbeam's
    /// `same_channel`).
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        same_channel(self.fd.as_raw_fd(), other.fd.as_raw_fd())
    }
}

impl<T: Message> Sender<T> {
    fn send_ns(&self, t: T, timeout_ns: u64) -> Result<(), SendTimeoutError<T>> {
        send_value(self.fd.as_raw_fd(), t, timeout_ns).map_err(|(t, f)| match f {
            Fail::Again | Fail::Timeout => SendTimeoutError::Timeout(t),
            Fail::Closed => SendTimeoutError::Disconnected(t),
            Fail::Io(e) => SendTimeoutError::Io(t, e),
        })
    }

    /// Sends `t`, waiting for room if the channel's bytes are used up.
    /// Fails, giving `t` back, when the receiver is gone, or when the
    /// kernel refuses the message ([`SendError::io_error`] says why).
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.send_ns(t, sys::TIMEOUT_FOREVER).map_err(|e| match e {
            SendTimeoutError::Timeout(t) | SendTimeoutError::Disconnected(t) => SendError(t, None),
            SendTimeoutError::Io(t, e) => SendError(t, Some(Cause(e))),
        })
    }

    /// Sends `t` if there is room now (crossbeam's `try_send`).
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.send_ns(t, 0).map_err(|e| match e {
            SendTimeoutError::Timeout(t) => TrySendError::Full(t),
            SendTimeoutError::Disconnected(t) => TrySendError::Disconnected(t),
            SendTimeoutError::Io(t, e) => TrySendError::Io(t, e),
        })
    }

    /// Waits at most `timeout` for room (crossbeam's `send_timeout`).
    pub fn send_timeout(&self, t: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_ns(t, ns(timeout))
    }

    /// Waits until `deadline` for room (crossbeam's `send_deadline`).
    pub fn send_deadline(&self, t: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_ns(t, until(deadline))
    }
}

impl<T> Clone for Sender<T> {
    /// One more sender, with an fd of its own.
    ///
    /// # Panics
    /// When no fd is left (`EMFILE`); [`Sender::try_clone`] returns it.
    fn clone(&self) -> Self {
        self.try_clone().unwrap_or_else(|e| clone_failed(e))
    }
}

impl<T> SyncSender<T> {
    fn into_fd(self) -> OwnedFd {
        self.inner.fd
    }

    /// A snapshot of the channel.
    pub fn info(&self) -> io::Result<Info> {
        self.inner.info()
    }

    /// `clone()` that returns the error (`EMFILE`...) instead of panicking.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(SyncSender { inner: self.inner.try_clone()? })
    }

    /// Whether `self` and `other` send to the same channel.
    pub fn same_channel(&self, other: &SyncSender<T>) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

impl<T: Message> SyncSender<T> {
    /// Sends `t`, waiting for room (on a rendezvous channel: until a
    /// receiver takes it).
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.inner.send(t)
    }

    /// Sends `t` if there is room now (on a rendezvous channel: if a
    /// receiver is already waiting).
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.inner.try_send(t)
    }

    /// Waits at most `timeout` for room (crossbeam's `send_timeout`).
    pub fn send_timeout(&self, t: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.inner.send_timeout(t, timeout)
    }

    /// Waits until `deadline` for room (crossbeam's `send_deadline`).
    pub fn send_deadline(&self, t: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.inner.send_deadline(t, deadline)
    }
}

impl<T> Clone for SyncSender<T> {
    /// # Panics
    /// When no fd is left (`EMFILE`); [`SyncSender::try_clone`] returns it.
    fn clone(&self) -> Self {
        SyncSender { inner: self.inner.clone() }
    }
}

impl<T> Receiver<T> {
    fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// A snapshot of the channel.
    pub fn info(&self) -> io::Result<Info> {
        sys::info(self.fd.as_raw_fd())
    }

    /// Refuses new messages and keeps the queued ones (tokio's
    /// `Receiver::close`).  Idempotent.
    pub fn close(&self) {
        // Only EBADF/ENOTTY (not a receiver) can fail it: nothing to do.
        let _ = sys::ioctl(self.fd.as_raw_fd(), sys::IOC_CLOSE, std::ptr::null_mut());
    }

    /// Messages queued now (crossbeam's `len`).
    pub fn len(&self) -> usize {
        self.info().map(|i| i.queued_msgs as usize).unwrap_or(0)
    }

    /// Whether no message is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Message> Receiver<T> {
    fn recv_ns(&self, timeout_ns: u64) -> Result<T, RecvTimeoutError> {
        let mut buf = self.buf.borrow_mut();
        match recv_value(self.fd.as_raw_fd(), &mut buf, timeout_ns) {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(RecvTimeoutError::Disconnected),
            Err(_) => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Waits for a message; `RecvError` once every sender is gone and the
    /// queue is drained.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_ns(sys::TIMEOUT_FOREVER).map_err(|_| RecvError)
    }

    /// A message if one is queued.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.recv_ns(0).map_err(|e| match e {
            RecvTimeoutError::Timeout => TryRecvError::Empty,
            RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
        })
    }

    /// Waits at most `timeout` for a message.  Signals do not shorten or
    /// lengthen the wait.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_ns(ns(timeout))
    }

    /// Waits until `deadline` for a message (crossbeam's `recv_deadline`).
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_ns(until(deadline))
    }

    /// Receives until the channel disconnects.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// The messages queued now, without waiting.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

/// Iterator of [`Receiver::iter`].
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Iterator of [`Receiver::try_iter`].
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Owning iterator of `for msg in rx`.
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<'a, T: Message> Iterator for Iter<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T: Message> Iterator for TryIter<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T: Message> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T: Message> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T: Message> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
