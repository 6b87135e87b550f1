// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! The std-shaped API against the device.

use mpsc_dev::{self as mpsc, RecvTimeoutError, TryRecvError, TrySendError};
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
#[should_panic(expected = "at least one byte")]
fn empty_message_panics() {
    let (tx, _rx) = mpsc::channel::<String>();
    let _ = tx.send(String::new());
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
