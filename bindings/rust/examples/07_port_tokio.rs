// A small log pipeline on tokio's channel: the program that
// examples/07_port.rs ports to /dev/mpsc by changing only the import.
// tests/port.rs checks that the two differ in that line alone and print
// the same.
use tokio::sync::mpsc; // the port: use mpsc_dev::tokio as mpsc;
use mpsc::error::{SendTimeoutError, TryRecvError, TrySendError};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::main]
async fn main() {
    // Producers: three tasks and one plain thread report (source, level, line).
    let (tx, mut rx) = mpsc::channel::<(String, u8, String)>(4);
    for id in 0..3u8 {
        let tx = tx.clone();
        tokio::spawn(async move {
            for n in 0..5u8 {
                let level = (id + n) % 3;
                tx.send((format!("task{}", id), level, format!("event {}", n))).await.unwrap();
            }
        });
    }
    let thread_tx = tx.clone();
    let thread = std::thread::spawn(move || {
        for n in 0..3u8 {
            thread_tx.blocking_send(("thread".to_string(), 2, format!("disk {}", n))).unwrap();
        }
    });
    let clone = tx.clone();
    println!("same channel: {}", tx.same_channel(&clone));
    drop(clone);
    println!("max capacity: {}", tx.max_capacity());
    drop(tx);

    // The consumer: counts per source and level, and keeps the errors.
    let mut counts: BTreeMap<(String, u8), u32> = BTreeMap::new();
    let mut errors = Vec::new();
    while let Some((source, level, line)) = rx.recv().await {
        *counts.entry((source.clone(), level)).or_default() += 1;
        if level == 2 {
            errors.push(format!("{}: {}", source, line));
        }
    }
    thread.join().unwrap();
    for ((source, level), n) in &counts {
        println!("{} level {}: {}", source, level, n);
    }
    errors.sort();
    for e in &errors {
        println!("error {}", e);
    }

    // Backpressure: a full channel refuses try_send and times out send_timeout.
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(1).unwrap();
    if let Err(TrySendError::Full(v)) = tx.try_send(2) {
        println!("full: {} comes back", v);
    }
    if let Err(SendTimeoutError::Timeout(v)) = tx.send_timeout(3, Duration::from_millis(20)).await {
        println!("timed out: {} comes back", v);
    }
    println!("capacity left: {}", tx.capacity());
    println!("received {:?}", rx.recv().await);
    let permit = tx.reserve().await.unwrap();
    permit.send(4);
    println!("reserved and sent: {:?}", rx.try_recv());
    if let Err(TryRecvError::Empty) = rx.try_recv() {
        println!("now empty");
    }

    // Shutdown: the receiver closes; a watcher task notices.
    let watcher = {
        let tx = tx.clone();
        tokio::spawn(async move {
            tx.closed().await;
            "watcher: receiver closed"
        })
    };
    tx.send(5).await.unwrap();
    rx.close();
    println!("{}", watcher.await.unwrap());
    println!("is closed: {}", tx.is_closed());
    println!("send after close: {:?}", tx.send(6).await.map_err(|e| e.0));
    println!("drained: {:?}", rx.recv().await);
    println!("then: {:?}", rx.recv().await);
    let (tx, mut rx) = mpsc::channel::<String>(1);
    std::thread::spawn(move || tx.blocking_send("from a thread".to_string()).unwrap());
    println!("blocking side: {:?}", tokio::task::spawn_blocking(move || rx.blocking_recv()).await.unwrap());
}
