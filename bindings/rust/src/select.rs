// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! crossbeam's `Select` over mpsc receivers and senders, on poll(2).

use std::fmt;
use std::marker::PhantomData;
use std::os::unix::io::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::error::Fail;
use crate::{sys, Message, Receiver, RecvError, SendError};

#[derive(Clone, Copy)]
struct Op {
    fd: RawFd,
    send: bool,
    index: usize,
}

/// Waits on several operations at once and picks one that is ready, as
/// crossbeam's `Select` does.
///
/// ```no_run
/// # use mpsc_dev as mpsc;
/// let (tx1, rx1) = mpsc::channel::<u32>();
/// let (tx2, rx2) = mpsc::sync_channel::<u32>(1);
/// let mut sel = mpsc::Select::new();
/// let r = sel.recv(&rx1);
/// let s = sel.send(&tx2);
/// let oper = sel.select();
/// match oper.index() {
///     i if i == r => println!("got {:?}", oper.recv(&rx1)),
///     i if i == s => oper.send(&tx2, 7).unwrap(),
///     _ => unreachable!(),
/// }
/// # drop((tx1, rx2));
/// ```
///
/// A receive is ready when a message is queued or the channel is
/// disconnected; a send when a message of any size would not wait, or
/// would fail at once.  `select()` takes the chosen receive's message
/// before returning, so `SelectedOperation::recv` never waits.  The
/// kernel cannot hold room for a chosen send: `SelectedOperation::send`
/// is a blocking send that almost always finds the room `select()` saw,
/// but may wait if another sender used it first.  `ready()` makes no
/// such promise, as in crossbeam: follow it with `try_recv`/`try_send`.
/// Any pollable fd can be a send case (`send` takes `AsFd`).
pub struct Select<'a> {
    ops: Vec<Op>,
    next: usize,
    count: usize,
    _h: PhantomData<&'a ()>,
}

/// The operation `select()` chose; complete it with `recv` or `send`.
#[must_use]
pub struct SelectedOperation<'a> {
    op: Op,
    // For a receive: the message it took, and the sender handles that
    // came with it (`None` at end of file).
    taken: Option<Option<(Vec<u8>, Vec<OwnedFd>)>>,
    _h: PhantomData<&'a ()>,
}

macro_rules! unit_error {
    ($name:ident, $text:expr) => {
        #[doc = concat!("crossbeam's `", stringify!($name), "`.")]
        #[derive(PartialEq, Eq, Clone, Copy, Debug)]
        pub struct $name;
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($text)
            }
        }
        impl std::error::Error for $name {}
    };
}
unit_error!(TrySelectError, "all operations in select would block");
unit_error!(SelectTimeoutError, "timed out waiting on select");
unit_error!(TryReadyError, "all operations in select would block");
unit_error!(ReadyTimeoutError, "timed out waiting on ready");

impl<'a> Default for Select<'a> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> fmt::Debug for Select<'a> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select").field("operations", &self.ops.len()).finish()
    }
}

impl<'a> Select<'a> {
    /// An empty selection.
    pub fn new() -> Self {
        Select {
            ops: Vec::new(),
            next: 0,
            count: 0,
            _h: PhantomData,
        }
    }

    fn add(&mut self, fd: RawFd, send: bool) -> usize {
        let index = self.count;
        self.count += 1;
        self.ops.push(Op { fd, send, index });
        index
    }

    /// Adds a receive; returns its index.
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        self.add(r.as_raw_fd(), false)
    }

    /// Adds a send on any sender (`Sender`, `SyncSender`, or any
    /// pollable fd); returns its index.
    pub fn send<S: AsFd>(&mut self, s: &'a S) -> usize {
        self.add(s.as_fd().as_raw_fd(), true)
    }

    /// Removes the operation of `index`.
    ///
    /// # Panics
    /// When there is no such operation.
    pub fn remove(&mut self, index: usize) {
        let at = self.ops.iter().position(|o| o.index == index);
        self.ops.remove(at.expect("no operation with this index"));
    }

    /// Waits until `deadline` for ready operations and returns one of
    /// them, taking turns among those ready together.
    fn wait(&mut self, deadline: Option<Instant>) -> Option<Op> {
        let mut fds: Vec<libc::pollfd> = self
            .ops
            .iter()
            .map(|o| libc::pollfd {
                fd: o.fd,
                events: if o.send { libc::POLLOUT } else { libc::POLLIN },
                revents: 0,
            })
            .collect();
        match sys::poll(&mut fds, deadline) {
            Ok(0) => None,
            Ok(_) => {
                let n = fds.len();
                let start = self.next % n.max(1);
                self.next = self.next.wrapping_add(1);
                (0..n)
                    .map(|k| (start + k) % n)
                    .find(|&i| fds[i].revents != 0)
                    .map(|i| self.ops[i])
            }
            // poll() fails only with EFAULT, EINVAL (too many fds), ENOMEM.
            Err(e) => panic!("mpsc-dev: select: poll: {}", e),
        }
    }

    fn ready_until(&mut self, deadline: Option<Instant>) -> Option<usize> {
        self.wait(deadline).map(|o| o.index)
    }

    fn select_until(&mut self, deadline: Option<Instant>) -> Option<SelectedOperation<'a>> {
        loop {
            let op = self.wait(deadline)?;
            if op.send {
                return Some(SelectedOperation { op, taken: None, _h: PhantomData });
            }
            // The receiver's type is not known here: take the message's
            // handles along; `recv` closes those its type does not use.
            let mut buf = Vec::new();
            match sys::recv_msg(op.fd, &mut buf, 0, true) {
                Ok(m) => {
                    let taken = m.map(|m| (m.payload(&buf).to_vec(), m.fds));
                    return Some(SelectedOperation { op, taken: Some(taken), _h: PhantomData });
                }
                // Taken by another reader, or a rendezvous offer withdrawn:
                // wait again.
                Err(e) => match Fail::from(e) {
                    Fail::Again | Fail::Timeout => {}
                    Fail::Closed => return Some(SelectedOperation { op, taken: Some(None), _h: PhantomData }),
                    Fail::Io(e) => crate::recv_failed(op.fd, e),
                },
            }
            if deadline.map_or(false, |d| Instant::now() >= d) {
                return None;
            }
        }
    }

    /// Waits for an operation and chooses it.
    pub fn select(&mut self) -> SelectedOperation<'a> {
        self.select_until(None).expect("a select without deadline returned")
    }

    /// Chooses an operation that is ready now.
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        self.select_until(Some(Instant::now())).ok_or(TrySelectError)
    }

    /// Waits at most `timeout` for an operation and chooses it.
    pub fn select_timeout(&mut self, timeout: Duration) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.select_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` for an operation and chooses it.
    pub fn select_deadline(&mut self, deadline: Instant) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.select_until(Some(deadline)).ok_or(SelectTimeoutError)
    }

    /// Waits until an operation is ready and returns its index, without
    /// performing it (it may fail to be ready by the time it is tried).
    pub fn ready(&mut self) -> usize {
        self.ready_until(None).expect("a ready without deadline returned")
    }

    /// The index of an operation ready now.
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        self.ready_until(Some(Instant::now())).ok_or(TryReadyError)
    }

    /// Waits at most `timeout` for an operation to be ready.
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        self.ready_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` for an operation to be ready.
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        self.ready_until(Some(deadline)).ok_or(ReadyTimeoutError)
    }
}

impl<'a> SelectedOperation<'a> {
    /// The index of the chosen operation.
    pub fn index(&self) -> usize {
        self.op.index
    }

    /// Completes a chosen receive: the message it took, or `RecvError`
    /// at end of file.
    ///
    /// # Panics
    /// When `r` is not the receiver of the chosen operation.
    pub fn recv<T: Message>(self, r: &Receiver<T>) -> Result<T, RecvError> {
        assert!(
            !self.op.send && r.as_raw_fd() == self.op.fd,
            "passed a receiver that wasn't selected"
        );
        match self.taken.expect("a receive takes its message") {
            Some((bytes, fds)) => Ok(crate::codec::decode(&bytes, fds)),
            None => Err(RecvError),
        }
    }

    /// Completes a chosen send with `msg` (a blocking send).
    ///
    /// # Panics
    /// When `s` is not the sender of the chosen operation.
    pub fn send<S: SendHandle<T>, T: Message>(self, s: &S, msg: T) -> Result<(), SendError<T>> {
        assert!(
            self.op.send && s.as_fd().as_raw_fd() == self.op.fd,
            "passed a sender that wasn't selected"
        );
        s.send_msg(msg)
    }
}

impl<'a> fmt::Debug for SelectedOperation<'a> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation").field("index", &self.op.index).finish()
    }
}

/// The senders `SelectedOperation::send` completes: `Sender` and
/// `SyncSender`.
pub trait SendHandle<T>: AsFd + sealed::Sealed {
    #[doc(hidden)]
    fn send_msg(&self, msg: T) -> Result<(), SendError<T>>;
}

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for crate::Sender<T> {}
    impl<T> Sealed for crate::SyncSender<T> {}
}

impl<T: Message> SendHandle<T> for crate::Sender<T> {
    fn send_msg(&self, msg: T) -> Result<(), SendError<T>> {
        self.send(msg)
    }
}

impl<T: Message> SendHandle<T> for crate::SyncSender<T> {
    fn send_msg(&self, msg: T) -> Result<(), SendError<T>> {
        self.send(msg)
    }
}
