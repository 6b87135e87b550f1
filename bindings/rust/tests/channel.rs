// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! The std-shaped API against the device.

use mpsc_dev::{self as mpsc, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use std::os::unix::io::{AsFd, AsRawFd, OwnedFd};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn send_recv_string() {
    let (tx, rx) = mpsc::channel();
    tx.send(String::from("hello")).unwrap();
    assert_eq!(rx.recv().unwrap(), "hello");
}

#[test]
fn integers_and_bytes() {
    let (tx, rx) = mpsc::channel::<i64>();
    tx.send(-42).unwrap();
    assert_eq!(rx.recv(), Ok(-42));
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    tx.send(vec![0, 1, 2]).unwrap();
    assert_eq!(rx.recv(), Ok(vec![0, 1, 2]));
}

#[test]
fn iteration_ends_when_senders_dropped() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    tx.send(1u32).unwrap();
    tx2.send(2u32).unwrap();
    drop(tx);
    drop(tx2);
    assert_eq!(rx.iter().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(rx.recv(), Err(mpsc::RecvError));
}

#[test]
fn producer_threads_in_order() {
    let (tx, rx) = mpsc::channel::<u64>();
    for i in 0..4u64 {
        let tx = tx.clone();
        thread::spawn(move || {
            for j in 0..100u64 {
                tx.send(i << 32 | j).unwrap();
            }
        });
    }
    drop(tx);
    let mut next = [0u64; 4];
    for v in rx {
        let (i, j) = ((v >> 32) as usize, v & 0xffff_ffff);
        assert_eq!(next[i], j);
        next[i] += 1;
    }
    assert_eq!(next, [100; 4]);
}

#[test]
fn try_recv_empty_then_disconnected() {
    let (tx, rx) = mpsc::channel::<u8>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(7).unwrap();
    assert_eq!(rx.try_recv(), Ok(7));
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn try_iter_takes_what_is_queued() {
    let (tx, rx) = mpsc::channel::<u8>();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(rx.try_iter().count(), 0);
}

#[test]
fn recv_timeout() {
    let (tx, rx) = mpsc::channel::<u8>();
    let start = Instant::now();
    assert_eq!(rx.recv_timeout(Duration::from_millis(50)), Err(RecvTimeoutError::Timeout));
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(rx.recv_timeout(Duration::ZERO), Err(RecvTimeoutError::Timeout));
    tx.send(1).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(1));
    drop(tx);
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Err(RecvTimeoutError::Disconnected));
}

#[test]
fn send_to_dropped_receiver_gives_value_back() {
    let (tx, rx) = mpsc::channel::<String>();
    drop(rx);
    let err = tx.send("back".to_string()).unwrap_err();
    assert_eq!(err.0, "back");
}

#[test]
fn sync_channel_full() {
    let (tx, rx) = mpsc::sync_channel::<u8>(1);
    tx.try_send(1).unwrap();
    assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    assert_eq!(rx.recv(), Ok(1));
    tx.try_send(2).unwrap();
    assert_eq!(tx.info().unwrap().capacity, 1);
    drop(rx);
    assert!(matches!(tx.try_send(3), Err(TrySendError::Disconnected(3))));
}

#[test]
fn rendezvous() {
    let (tx, rx) = mpsc::sync_channel::<u8>(0);
    assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
    let t = thread::spawn(move || rx.recv());
    tx.send(9).unwrap();
    assert_eq!(t.join().unwrap(), Ok(9));
}

#[test]
fn close_keeps_queue() {
    let (tx, rx) = mpsc::channel::<u8>();
    tx.send(1).unwrap();
    rx.close();
    assert!(tx.send(2).is_err());
    assert_eq!(rx.recv(), Ok(1));
    assert!(rx.recv().is_err());
}

#[test]
fn empty_message_is_an_error_value() {
    let (tx, _rx) = mpsc::channel::<String>();
    let err = tx.send(String::new()).unwrap_err();
    assert!(!err.is_disconnected());
    assert!(err.to_string().contains("at least one byte"), "{}", err);
    assert_eq!(err.0, "");
}

#[test]
fn oversize_send_returns_emsgsize() {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
    let max = tx.info().unwrap().max_msg_size as usize;
    let err = tx.send(vec![7; max + 1]).unwrap_err();
    assert_eq!(err.io_error().unwrap().raw_os_error(), Some(libc::EMSGSIZE));
    assert!(err.to_string().contains("max_msg_size"), "{}", err);
    assert!(!err.to_string().contains("loaded"), "{}", err);
    assert_eq!(err.0.len(), max + 1);
    match tx.try_send(vec![7; max + 1]) {
        Err(TrySendError::Io(v, e)) => {
            assert_eq!(v.len(), max + 1);
            assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE));
        }
        other => panic!("{:?}", other),
    }
    match tx.send_timeout(vec![7; max + 1], Duration::from_millis(1)) {
        Err(SendTimeoutError::Io(_, e)) => assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE)),
        other => panic!("{:?}", other),
    }
    // The channel still works, and the largest message goes through.
    tx.send(vec![9; max]).unwrap();
    assert_eq!(rx.recv().unwrap(), vec![9; max]);
}

#[test]
fn receive_allocates_only_the_message() {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    tx.send(vec![1; 3]).unwrap();
    tx.send(vec![2; 40_000]).unwrap();
    tx.send(vec![3; 5]).unwrap();
    for len in [3, 40_000, 5] {
        let v = rx.recv().unwrap();
        assert_eq!(v.len(), len);
        assert_eq!(v.capacity(), len, "a message owns exactly its bytes");
    }
}

#[test]
fn tuples_go_through() {
    let (tx, rx) = mpsc::channel::<(u32, String, bool)>();
    tx.send((7, "seven".to_string(), true)).unwrap();
    tx.send((0, String::new(), false)).unwrap();
    assert_eq!(rx.recv(), Ok((7, "seven".to_string(), true)));
    assert_eq!(rx.recv(), Ok((0, String::new(), false)));
}

#[test]
fn crossbeam_send_timeout_and_deadline() {
    let (tx, rx) = mpsc::sync_channel::<u8>(1);
    tx.send(1).unwrap();
    let start = Instant::now();
    assert_eq!(tx.send_timeout(2, Duration::from_millis(50)), Err(SendTimeoutError::Timeout(2)));
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        tx.send_deadline(3, Instant::now() + Duration::from_millis(10)),
        Err(SendTimeoutError::Timeout(3))
    );
    assert_eq!(rx.recv(), Ok(1));
    tx.send_timeout(4, Duration::from_secs(5)).unwrap();
    assert_eq!(rx.recv(), Ok(4));
    drop(rx);
    assert_eq!(tx.send_timeout(5, Duration::from_secs(5)), Err(SendTimeoutError::Disconnected(5)));
}

#[test]
fn crossbeam_recv_deadline() {
    let (tx, rx) = mpsc::channel::<u8>();
    let start = Instant::now();
    let deadline = start + Duration::from_millis(50);
    assert_eq!(rx.recv_deadline(deadline), Err(RecvTimeoutError::Timeout));
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(rx.recv_deadline(start), Err(RecvTimeoutError::Timeout));
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        tx.send(8).unwrap();
    });
    assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(5)), Ok(8));
    t.join().unwrap();
    assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(5)), Err(RecvTimeoutError::Disconnected));
}

#[test]
fn unbounded_try_send_len_and_same_channel() {
    let (tx, rx) = mpsc::channel::<u8>();
    let (other, _orx) = mpsc::channel::<u8>();
    assert!(tx.same_channel(&tx.clone()));
    assert!(!tx.same_channel(&other));
    assert!(rx.is_empty());
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.len(), 1);
}

#[test]
fn handles_convert_to_and_from_owned_fd() {
    let (tx, rx) = mpsc::sync_channel::<String>(2);
    // Hand both fds over, as to another library or process, and wrap them
    // again.
    let tx_fd: OwnedFd = tx.into();
    let rx_fd = OwnedFd::from(rx);
    let tx = mpsc::Sender::<String>::from(tx_fd);
    let rx: mpsc::Receiver<String> = rx_fd.into();
    assert!(tx.as_fd().as_raw_fd() >= 0 && rx.as_fd().as_raw_fd() >= 0);
    tx.send("through".to_string()).unwrap();
    assert_eq!(rx.recv().unwrap(), "through");
    // A duplicate (an inherited fd, say) is the same sender role.
    let dup = mpsc::SyncSender::<String>::from(tx.as_fd().try_clone_to_owned().unwrap());
    drop(tx);
    dup.try_send("dup".to_string()).unwrap();
    assert_eq!(rx.recv().unwrap(), "dup");
    drop(dup);
    assert!(rx.recv().is_err());
}

#[test]
fn fork_child_sends() {
    let (tx, rx) = mpsc::channel::<u32>();
    // SAFETY: the child only calls async-signal-safe code (write, _exit).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = if tx.send(4242).is_ok() { 0 } else { 1 };
        unsafe { libc::_exit(code) };
    }
    drop(tx);
    assert_eq!(rx.recv(), Ok(4242));
    assert!(rx.recv().is_err());
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(status, 0);
}
