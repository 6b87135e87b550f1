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
//! Both halves must be created and used inside a tokio runtime.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::unix::io::{AsRawFd, OwnedFd};

use ::tokio::io::unix::AsyncFd;

use crate::{decode, encode, errno, fail, sys, Message};

pub use crate::{SendError, TryRecvError};

/// The sending half; `clone()` makes another sender.
pub struct Sender<T> {
    fd: AsyncFd<OwnedFd>,
    _t: PhantomData<T>,
}

/// The receiving half.
pub struct Receiver<T> {
    fd: AsyncFd<OwnedFd>,
    max: usize,
    _t: PhantomData<T>,
}

fn register(fd: OwnedFd) -> AsyncFd<OwnedFd> {
    AsyncFd::new(fd).unwrap_or_else(|e| fail("cannot register with tokio", e))
}

/// Creates a channel of at most `buffer` queued messages, tokio's
/// `mpsc::channel(buffer)`.
///
/// # Panics
/// When `buffer` is 0 (as in tokio), when `/dev/mpsc` cannot be opened,
/// or outside a tokio runtime.
pub fn channel<T: Message>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    assert!(buffer > 0, "mpsc bounded channel requires buffer > 0");
    let (tx, rx, max) = sys::open(Some(buffer as u64), true)
        .unwrap_or_else(|e| fail("cannot open /dev/mpsc", e));
    (
        Sender {
            fd: register(tx),
            _t: PhantomData,
        },
        Receiver {
            fd: register(rx),
            max,
            _t: PhantomData,
        },
    )
}

impl<T: Message> Sender<T> {
    /// Sends `value`, waiting for room; fails, giving it back, only when
    /// the receiver is gone or closed.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let bytes = encode(&value);
        loop {
            let mut guard = match self.fd.writable().await {
                Ok(guard) => guard,
                Err(e) => fail("send", e),
            };
            match guard.try_io(|fd| sys::write(fd.as_raw_fd(), &bytes)) {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) if errno(&e) == libc::EPIPE => return Err(SendError(value)),
                Ok(Err(e)) => fail("send", e),
                Err(_would_block) => continue,
            }
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        let fd = sys::clone_sender(self.fd.as_raw_fd(), libc::O_NONBLOCK)
            .unwrap_or_else(|e| fail("cannot clone a sender", e));
        Sender {
            fd: register(fd),
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("fd", &self.fd.as_raw_fd()).finish()
    }
}

impl<T: Message> Receiver<T> {
    /// Waits for a message; `None` once every sender is gone (or the
    /// channel is closed) and the queue is drained.
    pub async fn recv(&mut self) -> Option<T> {
        let mut buf = vec![0u8; self.max];
        loop {
            let mut guard = match self.fd.readable().await {
                Ok(guard) => guard,
                Err(e) => fail("recv", e),
            };
            match guard.try_io(|fd| sys::read(fd.as_raw_fd(), &mut buf)) {
                Ok(Ok(0)) => return None,
                Ok(Ok(n)) => return Some(decode(&buf[..n])),
                Ok(Err(e)) => fail("recv", e),
                Err(_would_block) => continue,
            }
        }
    }

    /// A message if one is queued.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut buf = vec![0u8; self.max];
        match sys::read(self.fd.as_raw_fd(), &mut buf) {
            Ok(0) => Err(TryRecvError::Disconnected),
            Ok(n) => Ok(decode(&buf[..n])),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(TryRecvError::Empty),
            Err(e) => fail("try_recv", e),
        }
    }

    /// Refuses new messages and keeps the queued ones.
    pub fn close(&mut self) {
        if let Err(e) = sys::ioctl(self.fd.as_raw_fd(), sys::IOC_CLOSE, std::ptr::null_mut()) {
            fail("close", e)
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("fd", &self.fd.as_raw_fd()).finish()
    }
}
