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
//!
//! Messages cross the device as bytes: a type implements [`Message`] to
//! say how.  It is implemented for `Vec<u8>`, `String`, the integer and
//! float types, `bool` and `char`.
//!
//! Differences from `std`, all forced by the device:
//! * `channel()` panics when `/dev/mpsc` cannot be opened (mpsc.ko not
//!   loaded); [`try_channel`] returns the error instead.
//! * A message is at least one byte: sending an empty `Vec` or `String`
//!   panics, since `read()` returning 0 means the channel is disconnected.
//! * Receiving bytes that do not decode as `T` (a foreign sender speaking
//!   another format) panics with the message's length.
//!
//! The [`tokio`] module (feature `tokio`, on by default) has tokio's
//! bounded channel: `send(value).await`, `recv().await`.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::unix::io::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use sys::Info;

/// How a value crosses the device: as at least one byte.
pub trait Message: Sized {
    /// The bytes that carry `self`.
    fn to_bytes(&self) -> Vec<u8>;
    /// The value back from its bytes, or `None` if they do not encode one.
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

impl Message for Vec<u8> {
    fn to_bytes(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
}

impl Message for String {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

macro_rules! le_message {
    ($($t:ty),*) => {$(
        impl Message for $t {
            fn to_bytes(&self) -> Vec<u8> {
                self.to_le_bytes().to_vec()
            }
            fn from_bytes(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_le_bytes(bytes.try_into().ok()?))
            }
        }
    )*};
}
le_message!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

impl Message for bool {
    fn to_bytes(&self) -> Vec<u8> {
        vec![*self as u8]
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }
}

impl Message for char {
    fn to_bytes(&self) -> Vec<u8> {
        (*self as u32).to_bytes()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        char::from_u32(u32::from_bytes(bytes)?)
    }
}

fn encode<T: Message>(t: &T) -> Vec<u8> {
    let bytes = t.to_bytes();
    assert!(!bytes.is_empty(), "mpsc-dev: a message is at least one byte long");
    bytes
}

fn decode<T: Message>(bytes: &[u8]) -> T {
    T::from_bytes(bytes).unwrap_or_else(|| {
        panic!(
            "mpsc-dev: a message of {} bytes does not decode as {}",
            bytes.len(),
            std::any::type_name::<T>()
        )
    })
}

/// The error of `send`: the receiver is gone; the value comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// The error of `recv`: every sender is gone and the queue is drained.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

/// The errors of `try_recv`.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// No message now, but a sender is left.
    Empty,
    /// Every sender is gone and the queue is drained.
    Disconnected,
}

/// The errors of `recv_timeout`.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// The time ran out.
    Timeout,
    /// Every sender is gone and the queue is drained.
    Disconnected,
}

/// The errors of `SyncSender::try_send`; the value comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// No room (a rendezvous channel: no receiver waiting).
    Full(T),
    /// The receiver is gone.
    Disconnected(T),
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError { .. }")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(..) => f.write_str("Full(..)"),
            TrySendError::Disconnected(..) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(..) => f.write_str("sending on a full channel"),
            TrySendError::Disconnected(..) => f.write_str("sending on a closed channel"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on a closed channel")
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => f.write_str("receiving on a closed channel"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on channel"),
            RecvTimeoutError::Disconnected => f.write_str("channel is empty and sending half is closed"),
        }
    }
}

impl<T> std::error::Error for SendError<T> {}
impl<T> std::error::Error for TrySendError<T> {}
impl std::error::Error for RecvError {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvTimeoutError {}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Disconnected
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Disconnected
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Disconnected(e.0)
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn fail(what: &str, e: io::Error) -> ! {
    panic!("mpsc-dev: {}: {} (is mpsc.ko loaded?)", what, e)
}

/// The sending half of a channel; `clone()` makes another sender.
pub struct Sender<T> {
    fd: OwnedFd,
    _t: PhantomData<T>,
}

/// The sending half of a bounded channel.
pub struct SyncSender<T> {
    inner: Sender<T>,
}

/// The receiving half of a channel.
pub struct Receiver<T> {
    fd: OwnedFd,
    max: usize,
    _t: PhantomData<T>,
}

/// Like [`channel`], but returns the error instead of panicking.
pub fn try_channel<T: Message>() -> io::Result<(Sender<T>, Receiver<T>)> {
    let (tx, rx, max) = sys::open(None, false)?;
    Ok((Sender::from_fd(tx), Receiver::from_fd(rx, max)))
}

/// Creates a channel bounded by bytes only, `std::sync::mpsc::channel()`.
///
/// # Panics
/// When `/dev/mpsc` cannot be opened.
pub fn channel<T: Message>() -> (Sender<T>, Receiver<T>) {
    try_channel().unwrap_or_else(|e| fail("cannot open /dev/mpsc", e))
}

/// Like [`sync_channel`], but returns the error instead of panicking.
pub fn try_sync_channel<T: Message>(bound: usize) -> io::Result<(SyncSender<T>, Receiver<T>)> {
    let (tx, rx, max) = sys::open(Some(bound as u64), false)?;
    Ok((
        SyncSender {
            inner: Sender::from_fd(tx),
        },
        Receiver::from_fd(rx, max),
    ))
}

/// Creates a channel of at most `bound` queued messages,
/// `std::sync::mpsc::sync_channel(bound)`; 0 is a rendezvous channel.
///
/// # Panics
/// When `/dev/mpsc` cannot be opened.
pub fn sync_channel<T: Message>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    try_sync_channel(bound).unwrap_or_else(|e| fail("cannot open /dev/mpsc", e))
}

impl<T> Sender<T> {
    fn from_fd(fd: OwnedFd) -> Self {
        Sender { fd, _t: PhantomData }
    }

    /// A snapshot of the channel.
    pub fn info(&self) -> io::Result<Info> {
        sys::info(self.fd.as_raw_fd())
    }
}

impl<T: Message> Sender<T> {
    /// Sends `t`; fails, giving it back, only when the receiver is gone.
    ///
    /// # Panics
    /// When `t` encodes to no bytes.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        match sys::write(self.fd.as_raw_fd(), &encode(&t)) {
            Ok(_) => Ok(()),
            Err(e) if errno(&e) == libc::EPIPE => Err(SendError(t)),
            Err(e) => fail("send", e),
        }
    }
}

impl<T> Clone for Sender<T> {
    /// One more sender, with an fd of its own.
    ///
    /// # Panics
    /// When no fd is left.
    fn clone(&self) -> Self {
        let fd = sys::clone_sender(self.fd.as_raw_fd(), 0)
            .unwrap_or_else(|e| fail("cannot clone a sender", e));
        Sender::from_fd(fd)
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("fd", &self.fd.as_raw_fd()).finish()
    }
}

impl<T> AsRawFd for Sender<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl<T> IntoRawFd for Sender<T> {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl<T> FromRawFd for Sender<T> {
    /// Wraps a sender fd (from another process, say).
    unsafe fn from_raw_fd(fd: RawFd) -> Self {
        Sender::from_fd(OwnedFd::from_raw_fd(fd))
    }
}

impl<T: Message> SyncSender<T> {
    /// Sends `t`, waiting for room (on a rendezvous channel: until a
    /// receiver takes it).
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.inner.send(t)
    }

    /// Sends `t` if there is room now.
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        let mut bytes = encode(&t);
        let (ptr, len) = (bytes.as_mut_ptr(), bytes.len());
        match sys::xfer(self.inner.fd.as_raw_fd(), sys::IOC_SEND, ptr, len, 0) {
            Ok(_) => Ok(()),
            Err(e) if errno(&e) == libc::EAGAIN => Err(TrySendError::Full(t)),
            Err(e) if errno(&e) == libc::EPIPE => Err(TrySendError::Disconnected(t)),
            Err(e) => fail("try_send", e),
        }
    }

    /// A snapshot of the channel.
    pub fn info(&self) -> io::Result<Info> {
        self.inner.info()
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").field("fd", &self.inner.fd.as_raw_fd()).finish()
    }
}

impl<T> AsRawFd for SyncSender<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl<T> IntoRawFd for SyncSender<T> {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}

impl<T> Receiver<T> {
    fn from_fd(fd: OwnedFd, max: usize) -> Self {
        Receiver {
            fd,
            max,
            _t: PhantomData,
        }
    }

    /// A snapshot of the channel.
    pub fn info(&self) -> io::Result<Info> {
        sys::info(self.fd.as_raw_fd())
    }

    /// Refuses new messages and keeps the queued ones (tokio's
    /// `Receiver::close`).
    pub fn close(&self) {
        if let Err(e) = sys::ioctl(self.fd.as_raw_fd(), sys::IOC_CLOSE, std::ptr::null_mut()) {
            fail("close", e)
        }
    }

    fn xrecv(&self, timeout_ns: u64) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; self.max];
        let n = sys::xfer(self.fd.as_raw_fd(), sys::IOC_RECV, buf.as_mut_ptr(), buf.len(), timeout_ns)?;
        buf.truncate(n);
        Ok(buf)
    }
}

impl<T: Message> Receiver<T> {
    /// Waits for a message; `RecvError` once every sender is gone and the
    /// queue is drained.
    pub fn recv(&self) -> Result<T, RecvError> {
        let mut buf = vec![0u8; self.max];
        match sys::read(self.fd.as_raw_fd(), &mut buf) {
            Ok(0) => Err(RecvError),
            Ok(n) => Ok(decode(&buf[..n])),
            Err(e) => fail("recv", e),
        }
    }

    /// A message if one is queued.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.xrecv(0) {
            Ok(b) if b.is_empty() => Err(TryRecvError::Disconnected),
            Ok(b) => Ok(decode(&b)),
            Err(e) if errno(&e) == libc::EAGAIN => Err(TryRecvError::Empty),
            Err(e) => fail("try_recv", e),
        }
    }

    /// Waits at most `timeout` for a message.  Signals do not shorten or
    /// lengthen the wait.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX - 1);
        match self.xrecv(ns) {
            Ok(b) if b.is_empty() => Err(RecvTimeoutError::Disconnected),
            Ok(b) => Ok(decode(&b)),
            Err(e) if errno(&e) == libc::EAGAIN || errno(&e) == libc::ETIMEDOUT => {
                Err(RecvTimeoutError::Timeout)
            }
            Err(e) => fail("recv_timeout", e),
        }
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

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("fd", &self.fd.as_raw_fd()).finish()
    }
}

impl<T> AsRawFd for Receiver<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Message + PartialEq + fmt::Debug>(v: T) {
        assert_eq!(T::from_bytes(&v.to_bytes()), Some(v));
    }

    #[test]
    fn messages_round_trip() {
        round_trip(String::from("héllo"));
        round_trip(vec![0u8, 255, 7]);
        round_trip(-5i32);
        round_trip(u64::MAX);
        round_trip(1.5f64);
        round_trip(true);
        round_trip('€');
    }

    #[test]
    fn decoding_is_strict() {
        assert_eq!(i32::from_bytes(&[1, 2, 3]), None);
        assert_eq!(bool::from_bytes(&[2]), None);
        assert_eq!(String::from_bytes(&[0xff]), None);
        assert_eq!(char::from_bytes(&0xd800u32.to_le_bytes()), None);
    }

    #[test]
    #[should_panic(expected = "at least one byte")]
    fn empty_encoding_refused() {
        encode(&Vec::<u8>::new());
    }

    #[test]
    #[should_panic(expected = "does not decode as i32")]
    fn foreign_bytes_panic_clearly() {
        let _: i32 = decode(b"abc");
    }
}
