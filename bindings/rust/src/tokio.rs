// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! tokio's bounded `mpsc` channel over `/dev/mpsc`, driven by `AsyncFd`.
//!
//! ```no_run
//! use mpsc_dev::tokio as mpsc; // was: use tokio::sync::mpsc;
//!
//! # async fn f() {
//! let (tx, mut rx) = mpsc::channel(32);
//! tokio::spawn(async move {
//!     tx.send("Hello from an async task!".to_string()).await.unwrap();
//! });
//! if let Some(received) = rx.recv().await {
//!     println!("Async received: {}", received);
//! }
//! # }
//! ```
//!
//! The API is tokio's `sync::mpsc` bounded channel: `channel`,
//! `Sender::{send, try_send, send_timeout, reserve, closed, is_closed,
//! blocking_send, same_channel, capacity, max_capacity}`,
//! `Receiver::{recv, try_recv, recv_many, poll_recv, close, blocking_recv,
//! len, is_empty, is_closed}`, and the [`error`] types, plus
//! `futures_core::Stream` for the receiver under the `stream` feature.
//!
//! A [`Sender`] is a message itself, as the std-shaped senders are: put
//! in a message, it travels as a handle, and the wire does not say which
//! kind it was, so the receiving side may take it as either.
//!
//! `channel()` only creates the fds: a handle registers with tokio's
//! reactor the first time an async method is polled, so handles can be
//! made and moved outside a runtime, and `blocking_send`/`blocking_recv`
//! never need one.
//!
//! Every call to the kernel is a timed ioctl (`MPSC_IOC_SEND`/`RECV` with
//! timeout 0 for the async tries, or without limit for the blocking ones),
//! so one fd serves both kinds and its `O_NONBLOCK` flag does not matter.
//!
//! A rendezvous channel (capacity 0, which tokio's `channel(0)` refuses
//! but an fd from elsewhere may be) cannot pair an epoll-driven sender
//! with an epoll-driven receiver: the kernel hands a message over only to
//! a reader asleep in `read()`.  So on a capacity-0 channel `send` hands
//! its message to a blocking thread (`spawn_blocking`), which offers it
//! in 100 ms slices until a receiver takes it; dropping the future stops
//! the offer at the end of the current slice.  `recv` stays epoll-driven
//! and meets such a sender, or any blocking one.

use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ::tokio::io::unix::AsyncFd;
use once_cell::sync::OnceCell;

use crate::codec::{self, decode};
use crate::recv_failed;
use crate::error::{Cause, Fail};
use crate::{clone_failed, fd_handle, sys, Message};

/// tokio's `sync::mpsc::error`: the same names and variants, and an `Io`
/// variant (with [`SendError::io_error`]) for a message the kernel
/// refused (`EMSGSIZE`, `ENOMEM`, `EDQUOT`) or that did not encode.
pub mod error {
    use std::fmt;
    use std::io;

    pub use crate::error::{SendError, TryRecvError};

    /// The errors of `try_send`; the message comes back.
    pub enum TrySendError<T> {
        /// No room now.
        Full(T),
        /// The receiver is gone or closed.
        Closed(T),
        /// The kernel refused the message, or it did not encode.
        Io(T, io::Error),
    }

    /// The errors of `send_timeout`; the message comes back.
    pub enum SendTimeoutError<T> {
        /// The time ran out before there was room.
        Timeout(T),
        /// The receiver is gone or closed.
        Closed(T),
        /// The kernel refused the message, or it did not encode.
        Io(T, io::Error),
    }

    crate::error::send_enum_impls!(TrySendError,
        Full => "no available capacity",
        Closed => "channel closed");
    crate::error::send_enum_impls!(SendTimeoutError,
        Timeout => "timed out waiting on send operation",
        Closed => "channel closed");

    impl<T> From<SendError<T>> for TrySendError<T> {
        fn from(e: SendError<T>) -> Self {
            match e.1 {
                None => TrySendError::Closed(e.0),
                Some(c) => TrySendError::Io(e.0, c.0),
            }
        }
    }
}

use error::{SendError, SendTimeoutError, TryRecvError, TrySendError};

/// The fd as tokio's reactor sees it; the handle keeps ownership.
struct Raw(RawFd);

impl AsRawFd for Raw {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

fn no_runtime() -> io::Error {
    io::Error::new(
        io::ErrorKind::Other,
        "mpsc-dev: an async method was polled outside a tokio runtime",
    )
}

/// Registers `fd` with the current runtime's reactor.
fn register(fd: RawFd) -> io::Result<AsyncFd<Raw>> {
    ::tokio::runtime::Handle::try_current().map_err(|_| no_runtime())?;
    AsyncFd::new(Raw(fd))
}

/// An fd and its lazy registration.  `reg` is declared first so that it
/// is dropped (deregistered) before the fd closes.
struct Core {
    reg: OnceCell<AsyncFd<Raw>>,
    rendezvous: OnceCell<bool>,
    fd: OwnedFd,
}

impl Core {
    fn new(fd: OwnedFd) -> Self {
        Core {
            reg: OnceCell::new(),
            rendezvous: OnceCell::new(),
            fd,
        }
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn reg(&self) -> io::Result<&AsyncFd<Raw>> {
        self.reg.get_or_try_init(|| register(self.raw()))
    }

    fn rendezvous(&self) -> bool {
        *self
            .rendezvous
            .get_or_init(|| sys::info(self.raw()).map_or(false, |i| i.capacity == 0))
    }

    fn into_fd(self) -> OwnedFd {
        drop(self.reg);
        self.fd
    }

    fn info(&self) -> io::Result<sys::Info> {
        sys::info(self.raw())
    }

    fn is_closed(&self) -> bool {
        self.info()
            .map_or(true, |i| i.state & sys::STATE_RX_OPEN == 0 || i.state & sys::STATE_CLOSED != 0)
    }
}

/// The sending half; `clone()` makes another sender, with an fd of its
/// own.
pub struct Sender<T> {
    core: Core,
    _t: PhantomData<T>,
}

/// The receiving half.  It keeps one receive buffer, grown to the largest
/// message received.
pub struct Receiver<T> {
    core: Core,
    buf: Vec<u8>,
    _t: PhantomData<T>,
}

// Neither half holds a T: they never need pinning.
impl<T> Unpin for Sender<T> {}
impl<T> Unpin for Receiver<T> {}

fd_handle!(Sender, s => s.core.fd, fd => Sender { core: Core::new(fd), _t: PhantomData });
fd_handle!(Receiver, s => s.core.fd, fd => Receiver { core: Core::new(fd), buf: Vec::new(), _t: PhantomData });

// A sender is itself a message: it travels as a handle, and the other end
// may take it as a std-shaped sender, or this one.
codec::sender_message!(Sender<T>, "mpsc_dev::tokio::Sender", s => s.core.fd);

/// Like [`channel`], but returns the error (no `/dev/mpsc`, `EMFILE`...)
/// instead of panicking.
pub fn try_channel<T: Message>(buffer: usize) -> io::Result<(Sender<T>, Receiver<T>)> {
    let (tx, rx) = sys::open(Some(buffer as u64), false)?;
    Ok((Sender::from(tx), Receiver::from(rx)))
}

/// Creates a channel of at most `buffer` queued messages, tokio's
/// `mpsc::channel(buffer)`.  It needs no runtime.
///
/// # Panics
/// When `buffer` is 0 (as in tokio), or when `/dev/mpsc` cannot be opened.
pub fn channel<T: Message>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    assert!(buffer > 0, "mpsc bounded channel requires buffer > 0");
    try_channel(buffer).unwrap_or_else(|e| match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => {
            panic!("mpsc-dev: cannot open /dev/mpsc: {} (is mpsc.ko loaded?)", e)
        }
        _ => panic!("mpsc-dev: cannot create a channel: {}", e),
    })
}

fn timeout_err<T>(t: T, f: Fail) -> SendTimeoutError<T> {
    match f {
        Fail::Again | Fail::Timeout => SendTimeoutError::Timeout(t),
        Fail::Closed => SendTimeoutError::Closed(t),
        Fail::Io(e) => SendTimeoutError::Io(t, e),
    }
}

fn send_err<T>(e: SendTimeoutError<T>) -> SendError<T> {
    match e {
        SendTimeoutError::Timeout(t) | SendTimeoutError::Closed(t) => SendError(t, None),
        SendTimeoutError::Io(t, e) => SendError(t, Some(Cause(e))),
    }
}

/// Sets its flag when dropped: tells a blocking thread its future is gone.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// How long one blocking rendezvous offer lasts before it checks whether
/// its future was dropped.
const OFFER_SLICE: Duration = Duration::from_millis(100);

impl<T> Sender<T> {
    fn into_fd(self) -> OwnedFd {
        self.core.into_fd()
    }

    /// `clone()` that returns the error (`EMFILE`...) instead of panicking.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Sender::from(sys::clone_sender(self.core.raw(), 0)?))
    }

    /// Whether the receiver is gone or closed: sends fail from now on.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// Waits until the receiver is gone or closed.
    pub async fn closed(&self) {
        // A registration of its own (a dup of the fd), so that clearing
        // its readiness never hides room from a send waiting beside it.
        let own = sys::dup(self.core.raw()).and_then(|fd| Ok((register(fd.as_raw_fd())?, fd)));
        match own {
            Ok((reg, _fd)) => loop {
                if self.is_closed() {
                    return;
                }
                match reg.writable().await {
                    Ok(mut guard) => {
                        if self.is_closed() {
                            return;
                        }
                        guard.clear_ready();
                    }
                    Err(_) => return,
                }
            },
            // No fd left: look again now and then.
            Err(_) => {
                while !self.is_closed() {
                    ::tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Whether `self` and `other` send to the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        crate::same_channel(self.core.raw(), other.core.raw())
    }

    /// The channel's bound: `usize::MAX` for a channel bounded by bytes
    /// only.
    pub fn max_capacity(&self) -> usize {
        match self.core.info() {
            Ok(i) if i.capacity != sys::CAPACITY_UNBOUNDED => i.capacity as usize,
            _ => usize::MAX,
        }
    }

    /// Free message slots now (the bound less the queued messages).
    pub fn capacity(&self) -> usize {
        match self.core.info() {
            Ok(i) if i.capacity != sys::CAPACITY_UNBOUNDED => i.capacity.saturating_sub(i.queued_msgs) as usize,
            _ => usize::MAX,
        }
    }

    /// A snapshot of the channel.
    pub fn info(&self) -> io::Result<crate::Info> {
        self.core.info()
    }
}

impl<T: Message> Sender<T> {
    async fn send_until(&self, value: T, deadline: Option<::tokio::time::Instant>) -> Result<(), SendTimeoutError<T>> {
        let r = match codec::encode(&value) {
            Ok(m) => self.send_encoded(&m, deadline).await,
            Err(e) => Err(Fail::from(e)),
        };
        r.map_err(|f| timeout_err(value, f))
    }

    async fn send_encoded(&self, m: &codec::Encoded<'_>, deadline: Option<::tokio::time::Instant>) -> Result<(), Fail> {
        if self.core.rendezvous() {
            return self.offer(m, deadline).await;
        }
        let reg = self.core.reg().map_err(Fail::Io)?;
        loop {
            let ready = reg.writable();
            let guard = match deadline {
                None => ready.await,
                Some(d) => match ::tokio::time::timeout_at(d, ready).await {
                    Ok(g) => g,
                    Err(_) => return Err(Fail::Timeout),
                },
            };
            let mut guard = guard.map_err(Fail::Io)?;
            // EAGAIN (WouldBlock) clears the readiness and waits again.
            match guard.try_io(|fd| sys::send_msg(fd.as_raw_fd(), &m.bytes, &m.fds, 0)) {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => return Err(Fail::from(e)),
                Err(_would_block) => continue,
            }
        }
    }

    /// A rendezvous send: a blocking thread offers the message until a
    /// reader takes it, the deadline passes, or this future is dropped.
    /// The thread has duplicates of the sender's fd and of the message's
    /// handles, so dropping the future (and the value) never closes an fd
    /// under it.
    async fn offer(&self, m: &codec::Encoded<'_>, deadline: Option<::tokio::time::Instant>) -> Result<(), Fail> {
        let fd = sys::dup(self.core.raw())?;
        let handles = m.dup_fds()?;
        let bytes = m.bytes.clone();
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let cancelled = cancel.0.clone();
        let deadline = deadline.map(|d| d.into_std());
        let job = ::tokio::task::spawn_blocking(move || {
            let raw: Vec<RawFd> = handles.iter().map(|h| h.as_raw_fd()).collect();
            loop {
                let slice = match deadline {
                    None => OFFER_SLICE,
                    Some(d) => d.saturating_duration_since(std::time::Instant::now()).min(OFFER_SLICE),
                };
                match sys::send_msg(fd.as_raw_fd(), &bytes, &raw, crate::ns(slice)) {
                    Ok(()) => return Ok(()),
                    Err(e) => match Fail::from(e) {
                        Fail::Again | Fail::Timeout => {
                            let late = deadline.map_or(false, |d| std::time::Instant::now() >= d);
                            if late || cancelled.load(Ordering::Relaxed) {
                                return Err(Fail::Timeout);
                            }
                        }
                        f => return Err(f),
                    },
                }
            }
        });
        let r = job.await;
        drop(cancel);
        r.unwrap_or_else(|e| Err(Fail::Io(io::Error::new(io::ErrorKind::Other, e.to_string()))))
    }

    /// Sends `value`, waiting for room.  Fails, giving it back, when the
    /// receiver is gone or closed, or when the kernel refuses the message
    /// ([`SendError::io_error`] says why: `EMSGSIZE`, `ENOMEM`, `EDQUOT`).
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_until(value, None).await.map_err(send_err)
    }

    /// Sends `value`, waiting at most `timeout` for room.
    pub async fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Some(::tokio::time::Instant::now() + timeout)).await
    }

    /// Sends `value` if there is room now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        crate::send_value(self.core.raw(), value, 0).map_err(|(t, f)| match f {
            Fail::Again | Fail::Timeout => TrySendError::Full(t),
            Fail::Closed => TrySendError::Closed(t),
            Fail::Io(e) => TrySendError::Io(t, e),
        })
    }

    /// Sends `value`, blocking the thread until there is room.  Works with
    /// or without a runtime (do not call it on a runtime's own threads).
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        crate::send_value(self.core.raw(), value, sys::TIMEOUT_FOREVER)
            .map_err(|(t, f)| send_err(timeout_err(t, f)))
    }

    /// Waits until a message of any size would be accepted without
    /// waiting, and returns a permit to send one.
    ///
    /// The kernel has no reservations: the permit stands for room seen,
    /// not room held.  [`Permit::send`] almost always finds it; when
    /// another sender took it first, the message is handed to a blocking
    /// thread that waits for room, so it is still sent.
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        let reg = self.core.reg().map_err(|e| SendError((), Some(Cause(e))))?;
        loop {
            if self.is_closed() {
                return Err(SendError((), None));
            }
            if self.core.rendezvous() {
                // Room on a rendezvous channel is a reader asleep in
                // read(): readiness is all there is to go on.
                return Ok(Permit { tx: self });
            }
            let mut guard = reg.writable().await.map_err(|e| SendError((), Some(Cause(e))))?;
            match self.core.info() {
                Ok(i) if i.capacity == sys::CAPACITY_UNBOUNDED || i.queued_msgs < i.capacity => {
                    return Ok(Permit { tx: self })
                }
                _ => guard.clear_ready(),
            }
        }
    }
}

impl<T> Clone for Sender<T> {
    /// # Panics
    /// When no fd is left (`EMFILE`); [`Sender::try_clone`] returns it.
    fn clone(&self) -> Self {
        self.try_clone().unwrap_or_else(|e| clone_failed(e))
    }
}

/// Room seen by [`Sender::reserve`], to send one message.
pub struct Permit<'a, T> {
    tx: &'a Sender<T>,
}

impl<'a, T> fmt::Debug for Permit<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("fd", &self.tx.core.raw()).finish()
    }
}

impl<'a, T: Message> Permit<'a, T> {
    /// Sends `value`, as tokio's `Permit::send`: it cannot fail.  A
    /// message whose receiver is gone is dropped (as in tokio), and so is
    /// one the kernel refuses (`EMSGSIZE`, `EDQUOT`, `ENOMEM`):
    /// [`Permit::send_checked`] returns those.
    pub fn send(self, value: T) {
        let _ = self.send_checked(value);
    }

    /// Sends `value`, returning it with the reason when the receiver is
    /// gone or the kernel refuses it.
    pub fn send_checked(self, value: T) -> Result<(), SendError<T>> {
        match self.tx.try_send(value) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(value)) => {
                // The room went to another sender: wait for the next on a
                // blocking thread (on this one without a runtime), with
                // duplicates of the fds, since `value` is dropped now.
                let job = match (codec::encode(&value), sys::dup(self.tx.core.raw())) {
                    (Ok(m), Ok(fd)) => match m.dup_fds() {
                        Ok(handles) => {
                            let bytes = m.bytes;
                            Some(move || {
                                let raw: Vec<RawFd> = handles.iter().map(|h| h.as_raw_fd()).collect();
                                let _ = sys::send_msg(fd.as_raw_fd(), &bytes, &raw, sys::TIMEOUT_FOREVER);
                            })
                        }
                        Err(_) => None,
                    },
                    _ => None,
                };
                let job = match job {
                    Some(job) => job,
                    None => return self.tx.blocking_send(value),
                };
                match ::tokio::runtime::Handle::try_current() {
                    Ok(h) => drop(h.spawn_blocking(job)),
                    Err(_) => job(),
                }
                Ok(())
            }
            Err(TrySendError::Closed(v)) => Err(SendError(v, None)),
            Err(TrySendError::Io(v, e)) => Err(SendError(v, Some(Cause(e)))),
        }
    }
}

/// `std::future::poll_fn`, which Rust 1.63 lacks.
struct PollFn<F>(F);

impl<F: FnMut(&mut Context<'_>) -> Poll<R> + Unpin, R> Future for PollFn<F> {
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        (self.0)(cx)
    }
}

impl<T> Receiver<T> {
    fn into_fd(self) -> OwnedFd {
        self.core.into_fd()
    }

    /// Refuses new messages and keeps the queued ones.  Idempotent.
    pub fn close(&mut self) {
        // Only EBADF/ENOTTY (not a receiver) can fail it: nothing to do.
        let _ = sys::ioctl(self.core.raw(), sys::IOC_CLOSE, std::ptr::null_mut());
    }

    /// Whether every sender is gone or `close()` was called.
    pub fn is_closed(&self) -> bool {
        self.core
            .info()
            .map_or(true, |i| i.senders == 0 || i.state & sys::STATE_CLOSED != 0)
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.core.info().map(|i| i.queued_msgs as usize).unwrap_or(0)
    }

    /// Whether no message is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the channel.
    pub fn info(&self) -> io::Result<crate::Info> {
        self.core.info()
    }
}

impl<T: Message> Receiver<T> {
    fn take(&mut self, m: Option<sys::Msg>) -> Option<T> {
        let m = m?;
        let t = decode(m.payload(&self.buf), m.fds);
        if self.buf.len() > 1 << 20 {
            self.buf = Vec::new();
        }
        Some(t)
    }

    /// Polls for a message: `Ready(None)` once every sender is gone (or
    /// the channel is closed) and the queue is drained.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let fd = self.core.raw();
        let reg = self.core.reg().unwrap_or_else(|e| recv_failed(fd, e));
        loop {
            let mut guard = match reg.poll_read_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => recv_failed(fd, e),
                Poll::Pending => return Poll::Pending,
            };
            let buf = &mut self.buf;
            match guard.try_io(|_| sys::recv_msg(fd, buf, 0, T::HANDLES)) {
                Ok(Ok(m)) => return Poll::Ready(self.take(m)),
                Ok(Err(e)) => recv_failed(fd, e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Waits for a message; `None` once every sender is gone (or the
    /// channel is closed) and the queue is drained.
    pub async fn recv(&mut self) -> Option<T> {
        PollFn(|cx: &mut Context<'_>| self.poll_recv(cx)).await
    }

    /// Waits for at least one message, then appends up to `limit` queued
    /// messages to `buffer`; returns how many (0 at the end, or when
    /// `limit` is 0).
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        match self.recv().await {
            Some(t) => buffer.push(t),
            None => return 0,
        }
        let mut n = 1;
        while n < limit {
            match self.try_recv() {
                Ok(t) => buffer.push(t),
                Err(_) => break,
            }
            n += 1;
        }
        n
    }

    /// A message if one is queued.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let fd = self.core.raw();
        match sys::recv_msg(fd, &mut self.buf, 0, T::HANDLES) {
            Ok(m) => self.take(m).ok_or(TryRecvError::Disconnected),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(TryRecvError::Empty),
            Err(e) => recv_failed(fd, e),
        }
    }

    /// Waits for a message, blocking the thread.  Works with or without a
    /// runtime (do not call it on a runtime's own threads).
    pub fn blocking_recv(&mut self) -> Option<T> {
        let fd = self.core.raw();
        match sys::recv_msg(fd, &mut self.buf, sys::TIMEOUT_FOREVER, T::HANDLES) {
            Ok(m) => self.take(m),
            Err(e) => recv_failed(fd, e),
        }
    }
}

#[cfg(feature = "stream")]
mod stream {
    use super::*;
    use tokio_stream::Stream;

    impl<T: Message> Stream for Receiver<T> {
        type Item = T;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.get_mut().poll_recv(cx)
        }
    }

    /// tokio-stream's `wrappers::ReceiverStream` for this receiver (which
    /// is a `Stream` itself, too).
    #[derive(Debug)]
    pub struct ReceiverStream<T> {
        inner: Receiver<T>,
    }

    impl<T> ReceiverStream<T> {
        /// Wraps `recv`.
        pub fn new(recv: Receiver<T>) -> Self {
            ReceiverStream { inner: recv }
        }

        /// The receiver back.
        pub fn into_inner(self) -> Receiver<T> {
            self.inner
        }

        /// Refuses new messages and keeps the queued ones.
        pub fn close(&mut self) {
            self.inner.close()
        }
    }

    impl<T: Message> Stream for ReceiverStream<T> {
        type Item = T;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.get_mut().inner.poll_recv(cx)
        }
    }

    impl<T> AsRef<Receiver<T>> for ReceiverStream<T> {
        fn as_ref(&self) -> &Receiver<T> {
            &self.inner
        }
    }

    impl<T> AsMut<Receiver<T>> for ReceiverStream<T> {
        fn as_mut(&mut self) -> &mut Receiver<T> {
            &mut self.inner
        }
    }

    impl<T> From<Receiver<T>> for ReceiverStream<T> {
        fn from(recv: Receiver<T>) -> Self {
            Self::new(recv)
        }
    }
}

#[cfg(feature = "stream")]
pub use stream::ReceiverStream;
