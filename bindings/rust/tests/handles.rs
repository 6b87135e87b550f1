// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! Senders inside messages (issue 13): a `Sender` is a message, and
//! travels as a handle that the receiving side gets as a working sender.
//! tests/actor.rs does the same across processes.

use mpsc_dev::{self as mpsc, CodecError, Message, RecvError, TryRecvError};
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::thread;

/// Whether the channel behind `rx` has disconnected (every sender gone).
fn disconnected<T: Message>(rx: &mpsc::Receiver<T>) -> bool {
    matches!(
        rx.recv_timeout(std::time::Duration::from_secs(10)),
        Err(mpsc::RecvTimeoutError::Disconnected)
    )
}

#[test]
fn a_sender_travels_through_a_channel_and_works() {
    let (tx, rx) = mpsc::channel::<mpsc::Sender<u32>>();
    let (inner_tx, inner_rx) = mpsc::channel::<u32>();
    tx.send(inner_tx).unwrap();
    // In flight, the handle is the channel's only sender: still connected.
    assert_eq!(inner_rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.info().unwrap().queued_handles, 1);
    assert_eq!(inner_rx.info().unwrap().senders, 1);
    let got = rx.recv().unwrap();
    assert_eq!(rx.info().unwrap().queued_handles, 0);
    got.send(7).unwrap();
    got.clone().send(8).unwrap();
    assert_eq!(inner_rx.recv(), Ok(7));
    assert_eq!(inner_rx.recv(), Ok(8));
    drop(got);
    assert_eq!(inner_rx.recv(), Err(RecvError));
}

#[test]
fn a_received_handle_is_close_on_exec() {
    let (tx, rx) = mpsc::channel::<mpsc::Sender<u8>>();
    let (inner_tx, _inner_rx) = mpsc::channel::<u8>();
    tx.send(inner_tx).unwrap();
    let got = rx.recv().unwrap();
    // SAFETY: F_GETFD takes no pointer.
    let flags = unsafe { libc::fcntl(got.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
}

#[test]
fn request_and_reply_sender_round_trip() {
    let (tx, rx) = mpsc::channel::<(String, mpsc::Sender<String>)>();
    let server = thread::spawn(move || {
        for (text, reply) in rx {
            reply.send(text.to_uppercase()).unwrap();
        }
    });
    for word in ["one", "two", "three"] {
        let (reply_tx, reply_rx) = mpsc::channel();
        tx.send((word.to_string(), reply_tx)).unwrap();
        assert_eq!(reply_rx.recv().unwrap(), word.to_uppercase());
        // The server dropped its handle after replying.
        assert_eq!(reply_rx.recv(), Err(RecvError));
    }
    drop(tx);
    server.join().unwrap();
}

#[test]
fn several_senders_of_both_kinds_in_one_message() {
    type Msg = (mpsc::Sender<u8>, String, mpsc::SyncSender<u8>, (u16, mpsc::Sender<u8>));
    let (tx, rx) = mpsc::sync_channel::<Msg>(1);
    let (a_tx, a_rx) = mpsc::channel::<u8>();
    let (b_tx, b_rx) = mpsc::sync_channel::<u8>(4);
    let a2 = a_tx.clone();
    tx.send((a_tx, "mid".into(), b_tx, (9, a2))).unwrap();
    assert_eq!(rx.info().unwrap().queued_handles, 3);
    let (a, text, b, (n, a2)) = rx.recv().unwrap();
    assert_eq!((text.as_str(), n), ("mid", 9));
    assert!(a.same_channel(&a2));
    a.send(1).unwrap();
    b.send(2).unwrap();
    a2.send(3).unwrap();
    drop((a, b, a2));
    assert_eq!(a_rx.iter().collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(b_rx.iter().collect::<Vec<_>>(), vec![2]);
}

#[test]
fn the_reply_channel_disconnects_when_the_server_drops_the_handle() {
    let (tx, rx) = mpsc::channel::<(u32, mpsc::Sender<String>)>();
    let server = thread::spawn(move || {
        for (_n, reply) in rx {
            drop(reply); // no answer
        }
    });
    let (reply_tx, reply_rx) = mpsc::channel::<String>();
    tx.send((1, reply_tx)).unwrap();
    assert!(disconnected(&reply_rx));
    drop(tx);
    server.join().unwrap();
}

#[test]
fn handles_in_a_message_never_received_are_closed() {
    let (tx, rx) = mpsc::channel::<(String, mpsc::Sender<String>)>();
    let (reply_tx, reply_rx) = mpsc::channel::<String>();
    tx.send(("lost".into(), reply_tx)).unwrap();
    assert_eq!(reply_rx.try_recv(), Err(TryRecvError::Empty));
    // The receiver goes away with the message queued: the queue is freed,
    // handles and all.
    drop(rx);
    assert!(disconnected(&reply_rx));
}

#[test]
fn handles_in_a_message_received_as_bytes_are_closed() {
    let (tx, rx) = mpsc::channel::<(String, mpsc::Sender<String>)>();
    let (reply_tx, reply_rx) = mpsc::channel::<String>();
    tx.send(("hi".into(), reply_tx)).unwrap();
    // A type without senders does not ask for handles: the kernel drops them.
    let raw = mpsc::Receiver::<Vec<u8>>::from(OwnedFd::from(rx));
    assert_eq!(raw.recv().unwrap(), [2, 0, 0, 0, b'h', b'i', 0]);
    assert!(disconnected(&reply_rx));
}

/// A type that asks for handles but never takes them.
struct Ignores(Vec<u8>);

impl Message for Ignores {
    const HANDLES: bool = true;
    fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        buf.extend_from_slice(&self.0);
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Ignores(bytes.to_vec()))
    }
}

#[test]
fn handles_a_message_type_does_not_take_are_closed() {
    let (tx, rx) = mpsc::channel::<(String, mpsc::Sender<String>)>();
    let (reply_tx, reply_rx) = mpsc::channel::<String>();
    tx.send(("hi".into(), reply_tx)).unwrap();
    let rx = mpsc::Receiver::<Ignores>::from(OwnedFd::from(rx));
    assert_eq!(rx.recv().unwrap().0.len(), 7);
    assert!(disconnected(&reply_rx));
}

#[test]
fn a_long_message_with_handles_grows_the_buffer() {
    let (tx, rx) = mpsc::channel::<(Vec<u8>, mpsc::Sender<u8>)>();
    let (inner_tx, inner_rx) = mpsc::channel::<u8>();
    tx.send((vec![5; 50_000], inner_tx)).unwrap();
    let (bytes, inner) = rx.recv().unwrap();
    assert_eq!(bytes, vec![5; 50_000]);
    inner.send(1).unwrap();
    assert_eq!(inner_rx.recv(), Ok(1));
}

#[test]
fn at_most_max_handles_per_message() {
    let (s, _srx) = mpsc::channel::<u8>();
    type Six = (
        mpsc::Sender<u8>,
        mpsc::Sender<u8>,
        mpsc::Sender<u8>,
        mpsc::Sender<u8>,
        mpsc::Sender<u8>,
        mpsc::Sender<u8>,
    );
    let six = || -> Six { (s.clone(), s.clone(), s.clone(), s.clone(), s.clone(), s.clone()) };
    let (big_tx, big_rx) = mpsc::channel::<(Six, Six, Six)>();
    let err = big_tx.send((six(), six(), six())).unwrap_err();
    assert!(!err.is_disconnected());
    assert!(err.to_string().contains("at most 16"), "{}", err);
    assert_eq!(mpsc::MAX_HANDLES, 16);
    // The message came back whole, and nothing was queued.
    assert!(((err.0).2).5.same_channel(&s));
    assert_eq!(big_rx.try_recv().err(), Some(TryRecvError::Empty));
}

#[test]
fn only_mpsc_senders_travel() {
    let mut p = [0; 2];
    // SAFETY: p has room for two fds.
    assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 made both fds, owned here.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    drop(r);
    let fake = mpsc::Sender::<u8>::from(w);
    let (tx, rx) = mpsc::channel::<(u8, mpsc::Sender<u8>)>();
    let err = tx.send((1, fake)).unwrap_err();
    assert_eq!(err.io_error().unwrap().raw_os_error(), Some(libc::EINVAL), "{}", err);
    assert_eq!(rx.try_recv().err(), Some(TryRecvError::Empty));
}

#[test]
fn a_sender_alone_does_not_encode_outside_a_message() {
    let (tx, _rx) = mpsc::channel::<u8>();
    let mut buf = Vec::new();
    let e = tx.encode(&mut buf).unwrap_err();
    assert!(e.to_string().contains("sender handle"), "{}", e);
    assert!(<mpsc::Sender<u8> as Message>::decode(&[0]).is_err());
}

#[test]
fn select_takes_the_handles_along() {
    let (tx, rx) = mpsc::channel::<(String, mpsc::Sender<u8>)>();
    let (inner_tx, inner_rx) = mpsc::channel::<u8>();
    tx.send(("x".into(), inner_tx)).unwrap();
    let mut sel = mpsc::Select::new();
    let i = sel.recv(&rx);
    let op = sel.select();
    assert_eq!(op.index(), i);
    let (text, inner) = op.recv(&rx).unwrap();
    assert_eq!(text, "x");
    inner.send(4).unwrap();
    drop(inner);
    assert_eq!(inner_rx.iter().collect::<Vec<_>>(), vec![4]);
}

#[test]
fn a_bounded_request_channel_carries_sync_senders() {
    let (tx, rx) = mpsc::sync_channel::<(u32, mpsc::SyncSender<u32>)>(0);
    let server = thread::spawn(move || {
        for (n, reply) in rx {
            reply.send(n * 2).unwrap();
        }
    });
    for n in 0..5 {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        tx.send((n, reply_tx)).unwrap();
        assert_eq!(reply_rx.recv(), Ok(n * 2));
    }
    drop(tx);
    server.join().unwrap();
}

#[cfg(feature = "tokio")]
mod tokio_senders {
    use super::*;
    use mpsc_dev::tokio as amp;

    #[tokio::test]
    async fn async_request_and_reply() {
        let (tx, mut rx) = amp::channel::<(String, amp::Sender<String>)>(4);
        let server = tokio::spawn(async move {
            while let Some((text, reply)) = rx.recv().await {
                reply.send(format!("re: {}", text)).await.unwrap();
            }
        });
        for word in ["a", "b"] {
            let (reply_tx, mut reply_rx) = amp::channel(1);
            tx.send((word.to_string(), reply_tx)).await.unwrap();
            assert_eq!(reply_rx.recv().await, Some(format!("re: {}", word)));
            assert_eq!(reply_rx.recv().await, None);
        }
        drop(tx);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn std_and_tokio_senders_are_the_same_handle() {
        // Sent as a std sender, received as a tokio one.
        let (tx, rx) = mpsc::channel::<(u8, mpsc::Sender<String>)>();
        let mut rx = amp::Receiver::<(u8, amp::Sender<String>)>::from(OwnedFd::from(rx));
        let (reply_tx, reply_rx) = mpsc::channel::<String>();
        tx.send((1, reply_tx)).unwrap();
        let (n, reply) = rx.recv().await.unwrap();
        reply.send(n.to_string()).await.unwrap();
        drop(reply);
        assert_eq!(reply_rx.recv().unwrap(), "1");
        assert_eq!(reply_rx.recv(), Err(RecvError));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rendezvous_offer_carries_its_handles() {
        // tokio refuses channel(0); a capacity-0 fd from elsewhere makes
        // the async send offer the message from a blocking thread.
        let (tx, rx) = mpsc::sync_channel::<(u8, mpsc::Sender<u8>)>(0);
        let tx = amp::Sender::<(u8, amp::Sender<u8>)>::from(OwnedFd::from(tx));
        let server = thread::spawn(move || {
            let (n, reply) = rx.recv().unwrap();
            reply.send(n + 1).unwrap();
        });
        let (reply_tx, reply_rx) = amp::channel::<u8>(1);
        tx.send((41, reply_tx)).await.unwrap();
        let reply_rx = mpsc::Receiver::<u8>::from(OwnedFd::from(reply_rx));
        let got = tokio::task::spawn_blocking(move || (reply_rx.recv(), reply_rx.recv()));
        assert_eq!(got.await.unwrap(), (Ok(42), Err(RecvError)));
        server.join().unwrap();
    }

    #[tokio::test]
    async fn try_send_and_try_recv_carry_handles() {
        let (tx, mut rx) = amp::channel::<amp::Sender<u8>>(2);
        let (inner_tx, mut inner_rx) = amp::channel::<u8>(2);
        tx.try_send(inner_tx).unwrap();
        let inner = rx.try_recv().unwrap();
        inner.try_send(3).unwrap();
        drop(inner);
        assert_eq!(inner_rx.recv().await, Some(3));
        assert_eq!(inner_rx.recv().await, None);
    }
}
