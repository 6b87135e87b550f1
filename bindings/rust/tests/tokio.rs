// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! The tokio channel against the device.

use mpsc_dev::tokio as mpsc;
use std::time::Duration;

#[tokio::test]
async fn send_recv() {
    let (tx, mut rx) = mpsc::channel(4);
    tokio::spawn(async move {
        tx.send("async".to_string()).await.unwrap();
    });
    assert_eq!(rx.recv().await.as_deref(), Some("async"));
    assert_eq!(rx.recv().await, None);
}

#[tokio::test]
async fn backpressure() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.send(1).await.unwrap();
    let tx2 = tx.clone();
    let blocked = tokio::spawn(async move { tx2.send(2).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(!blocked.is_finished());
    assert_eq!(rx.recv().await, Some(1));
    blocked.await.unwrap().unwrap();
    assert_eq!(rx.recv().await, Some(2));
}

#[tokio::test]
async fn receiver_gone() {
    let (tx, rx) = mpsc::channel::<u32>(1);
    drop(rx);
    assert_eq!(tx.send(5).await.unwrap_err().0, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks() {
    let (tx, mut rx) = mpsc::channel::<u64>(8);
    for i in 0..4u64 {
        let tx = tx.clone();
        tokio::spawn(async move {
            for j in 0..50u64 {
                tx.send(i << 32 | j).await.unwrap();
            }
        });
    }
    drop(tx);
    let mut next = [0u64; 4];
    while let Some(v) = rx.recv().await {
        let (i, j) = ((v >> 32) as usize, v & 0xffff_ffff);
        assert_eq!(next[i], j);
        next[i] += 1;
    }
    assert_eq!(next, [50; 4]);
}

use mpsc::error::{SendTimeoutError, TryRecvError, TrySendError};
use std::os::unix::io::{AsFd, OwnedFd};
use std::time::Instant;

#[test]
fn constructors_need_no_runtime() {
    // Created, cloned, moved and used blocking outside any runtime.
    let (tx, mut rx) = mpsc::channel::<u32>(2);
    let tx2 = tx.clone();
    tx2.blocking_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(rx.blocking_recv(), Some(1));
    assert_eq!(rx.try_recv(), Ok(2));
    // Then handed to a runtime, which registers them on first use.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        tx.send(3).await.unwrap();
        assert_eq!(rx.recv().await, Some(3));
    });
}

#[tokio::test]
async fn try_send_full_then_closed() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    assert_eq!(tx.capacity(), 0);
    assert_eq!(tx.max_capacity(), 1);
    assert_eq!(rx.recv().await, Some(1));
    rx.close();
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
}

#[tokio::test]
async fn send_timeout_times_out_and_gives_back() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    tx.send(1).await.unwrap();
    let start = Instant::now();
    assert_eq!(tx.send_timeout(2, Duration::from_millis(40)).await, Err(SendTimeoutError::Timeout(2)));
    assert!(start.elapsed() >= Duration::from_millis(40));
    assert_eq!(rx.recv().await, Some(1));
    tx.send_timeout(3, Duration::from_secs(5)).await.unwrap();
    drop(rx);
    assert_eq!(tx.send_timeout(4, Duration::from_secs(5)).await, Err(SendTimeoutError::Closed(4)));
}

#[tokio::test]
async fn oversize_send_is_an_error_value() {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(2);
    let max = tx.info().unwrap().max_msg_size as usize;
    let err = tx.send(vec![0; max + 1]).await.unwrap_err();
    assert_eq!(err.io_error().unwrap().raw_os_error(), Some(libc::EMSGSIZE));
    assert_eq!(err.0.len(), max + 1);
    match tx.try_send(vec![0; max + 1]) {
        Err(TrySendError::Io(_, e)) => assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE)),
        other => panic!("{:?}", other),
    }
    tx.send(vec![1; max]).await.unwrap();
    let got = rx.recv().await.unwrap();
    assert_eq!((got.len(), got.capacity()), (max, max));
}

#[tokio::test]
async fn reserve_then_send() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    let permit = tx.reserve().await.unwrap();
    permit.send(9);
    assert_eq!(rx.recv().await, Some(9));
    // A full channel: reserve waits until the receiver makes room.
    tx.send(1).await.unwrap();
    let tx2 = tx.clone();
    let waiter = tokio::spawn(async move {
        let p = tx2.reserve().await.unwrap();
        p.send(2);
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(!waiter.is_finished());
    assert_eq!(rx.recv().await, Some(1));
    waiter.await.unwrap();
    assert_eq!(rx.recv().await, Some(2));
    rx.close();
    assert!(tx.reserve().await.is_err());
}

#[tokio::test]
async fn closed_wakes_when_the_receiver_closes_or_goes() {
    let (tx, mut rx) = mpsc::channel::<u32>(4);
    assert!(!tx.is_closed());
    let tx2 = tx.clone();
    let watcher = tokio::spawn(async move { tx2.closed().await });
    // Sends beside a waiting closed() still see room.
    for i in 0..4 {
        tx.send(i).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!watcher.is_finished());
    rx.close();
    tokio::time::timeout(Duration::from_secs(5), watcher).await.unwrap().unwrap();
    assert!(tx.is_closed());
    assert_eq!(rx.recv().await, Some(0));

    let (tx, rx) = mpsc::channel::<u32>(1);
    let watcher = tokio::spawn(async move { tx.closed().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), watcher).await.unwrap().unwrap();
}

#[tokio::test]
async fn same_channel_len_is_empty() {
    let (tx, mut rx) = mpsc::channel::<u8>(4);
    let (other, _orx) = mpsc::channel::<u8>(4);
    assert!(tx.same_channel(&tx.clone()));
    assert!(!tx.same_channel(&other));
    assert!(rx.is_empty());
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    assert_eq!(rx.len(), 2);
    assert!(!rx.is_empty());
    rx.recv().await;
    assert_eq!(rx.len(), 1);
    assert!(!rx.is_closed());
    drop(tx);
    assert!(rx.is_closed());
}

#[tokio::test]
async fn recv_many_takes_what_is_queued() {
    let (tx, mut rx) = mpsc::channel::<u32>(8);
    for i in 0..5 {
        tx.send(i).await.unwrap();
    }
    let mut buf = Vec::new();
    assert_eq!(rx.recv_many(&mut buf, 3).await, 3);
    assert_eq!(rx.recv_many(&mut buf, 10).await, 2);
    assert_eq!(buf, vec![0, 1, 2, 3, 4]);
    assert_eq!(rx.recv_many(&mut buf, 0).await, 0);
    drop(tx);
    assert_eq!(rx.recv_many(&mut buf, 10).await, 0);
}

#[tokio::test]
async fn poll_recv_by_hand() {
    let (tx, mut rx) = mpsc::channel::<String>(2);
    let waker = futures_noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(rx.poll_recv(&mut cx).is_pending());
    tx.send("polled".to_string()).await.unwrap();
    let mut got = None;
    for _ in 0..100 {
        if let std::task::Poll::Ready(v) = rx.poll_recv(&mut cx) {
            got = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(got.as_deref(), Some("polled"));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

fn futures_noop_waker() -> std::task::Waker {
    use std::task::{RawWaker, RawWakerVTable};
    fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable ignores its data pointer.
    unsafe { std::task::Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

#[tokio::test]
async fn tuples_and_fd_round_trip() {
    let (tx, rx) = mpsc::channel::<(u16, String)>(2);
    let tx_fd: OwnedFd = tx.into();
    let rx_fd: OwnedFd = rx.into();
    let tx = mpsc::Sender::<(u16, String)>::from(tx_fd);
    let mut rx = mpsc::Receiver::<(u16, String)>::from(rx_fd);
    let _ = tx.as_fd();
    tx.send((3, "three".into())).await.unwrap();
    assert_eq!(rx.recv().await, Some((3, "three".into())));
}

#[tokio::test]
async fn a_std_handle_becomes_a_tokio_handle() {
    let (tx, rx) = mpsc_dev::sync_channel::<u32>(4);
    let tx = mpsc::Sender::<u32>::from(OwnedFd::from(tx));
    let mut rx = mpsc::Receiver::<u32>::from(OwnedFd::from(rx));
    tx.send(11).await.unwrap();
    assert_eq!(rx.recv().await, Some(11));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendezvous_async_send_meets_async_recv() {
    // capacity 0 from an fd made elsewhere: send hands its message to a
    // blocking thread, recv stays epoll-driven, and they meet.
    let (tx, rx) = mpsc_dev::sync_channel::<u32>(0);
    let tx = mpsc::Sender::<u32>::from(OwnedFd::from(tx));
    let mut rx = mpsc::Receiver::<u32>::from(OwnedFd::from(rx));
    let sender = tokio::spawn(async move {
        for i in 0..3 {
            tx.send(i).await.unwrap();
        }
    });
    for i in 0..3 {
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap();
        assert_eq!(got, Some(i));
    }
    sender.await.unwrap();
    assert_eq!(rx.recv().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendezvous_send_timeout_and_cancel() {
    let (tx, rx) = mpsc_dev::sync_channel::<u32>(0);
    let tx = mpsc::Sender::<u32>::from(OwnedFd::from(tx));
    // Nobody receives: the offer times out and the value comes back.
    assert_eq!(tx.send_timeout(5, Duration::from_millis(50)).await, Err(SendTimeoutError::Timeout(5)));
    // A dropped send future withdraws its offer: nothing arrives later.
    let _ = tokio::time::timeout(Duration::from_millis(20), tx.send(6)).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    drop(tx);
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
}
