// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! The error types of `std::sync::mpsc` and crossbeam, plus what the
//! device adds: a send refused for a reason other than the channel's
//! state (the message too long, out of memory, the per-user limit, a
//! value that does not encode) is an error value that gives the message
//! back and says why.

use std::fmt;
use std::io;

use crate::codec::CodecError;

/// Why the kernel (or the codec) refused a send, beyond "full" and
/// "disconnected": an `io::Error` that keeps its errno.
pub(crate) struct Cause(pub(crate) io::Error);

impl Clone for Cause {
    fn clone(&self) -> Self {
        Cause(match self.0.raw_os_error() {
            Some(n) => io::Error::from_raw_os_error(n),
            None => io::Error::new(self.0.kind(), self.0.to_string()),
        })
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind() && self.0.raw_os_error() == other.0.raw_os_error()
    }
}

impl Eq for Cause {}

impl From<CodecError> for Cause {
    fn from(e: CodecError) -> Self {
        Cause(io::Error::new(io::ErrorKind::InvalidInput, e))
    }
}

/// The error in words: the kernel's errno explained for this device.
pub(crate) fn explain(e: &io::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let why = match e.raw_os_error() {
        Some(libc::EMSGSIZE) => "the message is longer than the channel's max_msg_size",
        Some(libc::EDQUOT) => {
            "the channel's owner is over the per-user limit on queued memory \
             (/proc/sys/mpsc/max_user_bytes)"
        }
        Some(libc::ENOMEM) => "the kernel is out of memory",
        Some(libc::EMFILE) => "too many open files",
        Some(libc::EINVAL) => "the kernel refused the message (only mpsc senders travel as handles)",
        _ => return write!(f, "{}", e),
    };
    write!(f, "{} ({})", why, e)
}

/// What a failed transfer means, from its errno.
pub(crate) enum Fail {
    /// EAGAIN: no room now (a send), nothing queued (a receive).
    Again,
    /// ETIMEDOUT: the time ran out.
    Timeout,
    /// EPIPE: the receiver is gone or closed.
    Closed,
    /// Anything else: EMSGSIZE, ENOMEM, EDQUOT, a codec error...
    Io(io::Error),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::EAGAIN) => Fail::Again,
            Some(libc::ETIMEDOUT) => Fail::Timeout,
            Some(libc::EPIPE) => Fail::Closed,
            _ => Fail::Io(e),
        }
    }
}

impl From<CodecError> for Fail {
    fn from(e: CodecError) -> Self {
        Fail::Io(Cause::from(e).0)
    }
}

/// The error of `send`: the message comes back in `.0`.  Either the
/// receiver is gone (or closed), as in `std`, or the kernel refused the
/// message for a reason [`SendError::io_error`] gives (`EMSGSIZE`,
/// `ENOMEM`, `EDQUOT`, or a value whose encoding failed).
pub struct SendError<T>(pub T, pub(crate) Option<Cause>);

impl<T> SendError<T> {
    /// The refusal's `io::Error`; `None` when the receiver is gone.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.1.as_ref().map(|c| &c.0)
    }

    /// Whether the send failed because the receiver is gone or closed.
    pub fn is_disconnected(&self) -> bool {
        self.1.is_none()
    }

    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: Clone> Clone for SendError<T> {
    fn clone(&self) -> Self {
        SendError(self.0.clone(), self.1.clone())
    }
}

impl<T: PartialEq> PartialEq for SendError<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 && self.1 == other.1
    }
}

impl<T: Eq> Eq for SendError<T> {}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.1 {
            None => f.write_str("SendError { .. }"),
            Some(c) => write!(f, "SendError {{ .., io_error: {:?} }}", c.0),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.1 {
            None => f.write_str("sending on a closed channel"),
            Some(c) => {
                f.write_str("cannot send: ")?;
                explain(&c.0, f)
            }
        }
    }
}

impl<T> std::error::Error for SendError<T> {}

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

/// The errors of `recv_timeout` and `recv_deadline`.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// The time ran out.
    Timeout,
    /// Every sender is gone and the queue is drained.
    Disconnected,
}

/// The errors of `try_send`; the message comes back.
pub enum TrySendError<T> {
    /// No room (a rendezvous channel: no receiver waiting).
    Full(T),
    /// The receiver is gone or closed.
    Disconnected(T),
    /// The kernel refused the message (`EMSGSIZE`, `ENOMEM`, `EDQUOT`),
    /// or it did not encode.
    Io(T, io::Error),
}

/// The errors of crossbeam's `send_timeout` and `send_deadline`.
pub enum SendTimeoutError<T> {
    /// The time ran out before there was room.
    Timeout(T),
    /// The receiver is gone or closed.
    Disconnected(T),
    /// The kernel refused the message (`EMSGSIZE`, `ENOMEM`, `EDQUOT`),
    /// or it did not encode.
    Io(T, io::Error),
}

macro_rules! send_enum_impls {
    ($name:ident, $($var:ident => $text:expr),*) => {
        impl<T> $name<T> {
            /// The message that was not sent.
            pub fn into_inner(self) -> T {
                match self {
                    $($name::$var(t) => t,)*
                    $name::Io(t, _) => t,
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$var(..) => f.write_str(concat!(stringify!($var), "(..)")),)*
                    $name::Io(_, e) => write!(f, "Io(.., {:?})", e),
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$var(..) => f.write_str($text),)*
                    $name::Io(_, e) => {
                        f.write_str("cannot send: ")?;
                        crate::error::explain(e, f)
                    }
                }
            }
        }

        impl<T> std::error::Error for $name<T> {}

        impl<T: PartialEq> PartialEq for $name<T> {
            fn eq(&self, other: &Self) -> bool {
                match (self, other) {
                    $(($name::$var(a), $name::$var(b)) => a == b,)*
                    ($name::Io(a, e), $name::Io(b, g)) => {
                        a == b && e.kind() == g.kind() && e.raw_os_error() == g.raw_os_error()
                    }
                    _ => false,
                }
            }
        }

        impl<T: Eq> Eq for $name<T> {}
    };
}
pub(crate) use send_enum_impls;

send_enum_impls!(TrySendError,
    Full => "sending on a full channel",
    Disconnected => "sending on a closed channel");
send_enum_impls!(SendTimeoutError,
    Timeout => "timed out waiting on send operation",
    Disconnected => "sending on a disconnected channel");

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
        match e.1 {
            None => TrySendError::Disconnected(e.0),
            Some(c) => TrySendError::Io(e.0, c.0),
        }
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(e: SendError<T>) -> Self {
        match e.1 {
            None => SendTimeoutError::Disconnected(e.0),
            Some(c) => SendTimeoutError::Io(e.0, c.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(errno: i32) -> SendError<u8> {
        SendError(1, Some(Cause(io::Error::from_raw_os_error(errno))))
    }

    #[test]
    fn refusals_say_why_and_keep_the_errno() {
        for (errno, words) in [
            (libc::EMSGSIZE, "max_msg_size"),
            (libc::ENOMEM, "out of memory"),
            (libc::EDQUOT, "max_user_bytes"),
            (libc::EMFILE, "too many open files"),
        ] {
            let e = refused(errno);
            assert!(!e.is_disconnected());
            assert_eq!(e.io_error().unwrap().raw_os_error(), Some(errno));
            assert!(e.to_string().contains(words), "{}", e);
            assert!(!e.to_string().contains("loaded"), "{}", e);
            assert!(matches!(Fail::from(io::Error::from_raw_os_error(errno)), Fail::Io(_)));
            assert_eq!(e.clone(), e);
            match TrySendError::from(e) {
                TrySendError::Io(1, io) => assert_eq!(io.raw_os_error(), Some(errno)),
                other => panic!("{:?}", other),
            }
        }
    }

    #[test]
    fn channel_states_are_not_io_errors() {
        assert!(matches!(Fail::from(io::Error::from_raw_os_error(libc::EAGAIN)), Fail::Again));
        assert!(matches!(Fail::from(io::Error::from_raw_os_error(libc::ETIMEDOUT)), Fail::Timeout));
        assert!(matches!(Fail::from(io::Error::from_raw_os_error(libc::EPIPE)), Fail::Closed));
        let e = SendError(5u8, None);
        assert!(e.is_disconnected() && e.io_error().is_none());
        assert_eq!(e.to_string(), "sending on a closed channel");
    }
}
