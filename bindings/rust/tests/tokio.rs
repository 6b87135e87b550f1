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
