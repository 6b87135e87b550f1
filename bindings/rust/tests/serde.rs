// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! Any serde type through a channel (feature `serde`, bincode).

use mpsc_dev::{self as mpsc, Bincode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Job {
    id: u32,
    name: String,
    tags: Vec<String>,
    weights: BTreeMap<String, f64>,
}
impl Bincode for Job {}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Command {
    Start(Job),
    Stop { reason: String },
    Ping,
}
impl Bincode for Command {}

fn job() -> Job {
    let mut weights = BTreeMap::new();
    weights.insert("cpu".to_string(), 0.5);
    Job { id: 7, name: "build".into(), tags: vec!["a".into(), "b".into()], weights }
}

#[test]
fn structs_go_through() {
    let (tx, rx) = mpsc::channel::<Job>();
    tx.send(job()).unwrap();
    assert_eq!(rx.recv().unwrap(), job());
}

#[test]
fn enums_and_tuples_of_structs() {
    let (tx, rx) = mpsc::channel::<(u8, Command)>();
    tx.send((1, Command::Start(job()))).unwrap();
    tx.send((2, Command::Stop { reason: "done".into() })).unwrap();
    tx.send((3, Command::Ping)).unwrap();
    drop(tx);
    let got: Vec<_> = rx.iter().collect();
    assert_eq!(got[0], (1, Command::Start(job())));
    assert_eq!(got[1], (2, Command::Stop { reason: "done".into() }));
    assert_eq!(got[2], (3, Command::Ping));
}

#[test]
fn strings_keep_their_raw_encoding_with_serde_on() {
    // The feature is additive: a String is still its UTF-8 bytes, so a C,
    // Python or Go peer reads it as text.
    let (tx, rx) = mpsc::channel::<String>();
    tx.send("plain".into()).unwrap();
    let raw = mpsc::Receiver::<Vec<u8>>::from(std::os::unix::io::OwnedFd::from(rx));
    assert_eq!(raw.recv().unwrap(), b"plain");
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn structs_through_the_tokio_channel() {
    let (tx, mut rx) = mpsc_dev::tokio::channel::<Job>(2);
    tokio::spawn(async move { tx.send(job()).await.unwrap() });
    assert_eq!(rx.recv().await, Some(job()));
    assert_eq!(rx.recv().await, None);
}

#[test]
#[should_panic(expected = "does not decode as")]
fn foreign_bytes_panic_with_the_type_name() {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    tx.send(vec![1, 2]).unwrap();
    let rx = mpsc::Receiver::<Job>::from(std::os::unix::io::OwnedFd::from(rx));
    let _ = rx.recv();
}

/// A request with its reply channel inside, as serde sees it.
#[derive(Serialize, Deserialize)]
struct Ask {
    text: String,
    reply: mpsc::Sender<String>,
    also: Option<mpsc::SyncSender<u8>>,
}
impl Bincode for Ask {}

#[test]
fn serde_structs_carry_senders() {
    let (tx, rx) = mpsc::channel::<Ask>();
    let server = std::thread::spawn(move || {
        for ask in rx {
            ask.reply.send(ask.text.to_uppercase()).unwrap();
            if let Some(also) = ask.also {
                also.send(ask.text.len() as u8).unwrap();
            }
        }
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    let (also_tx, also_rx) = mpsc::sync_channel(1);
    tx.send(Ask { text: "abc".into(), reply: reply_tx, also: Some(also_tx) }).unwrap();
    assert_eq!(reply_rx.recv().unwrap(), "ABC");
    assert_eq!(also_rx.recv(), Ok(3));
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.send(Ask { text: "d".into(), reply: reply_tx, also: None }).unwrap();
    assert_eq!(reply_rx.recv().unwrap(), "D");
    drop(tx);
    server.join().unwrap();
    // Every handle was dropped with its request.
    assert_eq!(reply_rx.recv(), Err(mpsc::RecvError));
    assert_eq!(also_rx.recv(), Err(mpsc::RecvError));
}

#[test]
fn serde_and_tuple_handles_share_one_numbering() {
    let (tx, rx) = mpsc::channel::<(mpsc::Sender<u8>, Ask, mpsc::Sender<u8>)>();
    let (a_tx, a_rx) = mpsc::channel::<u8>();
    let (b_tx, b_rx) = mpsc::channel::<u8>();
    let (reply_tx, reply_rx) = mpsc::channel::<String>();
    tx.send((a_tx, Ask { text: "x".into(), reply: reply_tx, also: None }, b_tx)).unwrap();
    assert_eq!(rx.info().unwrap().queued_handles, 3);
    let (a, ask, b) = rx.recv().unwrap();
    a.send(1).unwrap();
    b.send(2).unwrap();
    ask.reply.send(ask.text).unwrap();
    drop((a, b, ask.reply));
    assert_eq!(a_rx.iter().collect::<Vec<_>>(), vec![1]);
    assert_eq!(b_rx.iter().collect::<Vec<_>>(), vec![2]);
    assert_eq!(reply_rx.iter().collect::<Vec<_>>(), vec!["x".to_string()]);
}

#[test]
fn a_sender_serializes_only_inside_a_message() {
    let (tx, _rx) = mpsc::channel::<u8>();
    let e = bincode::serialize(&tx).unwrap_err();
    assert!(e.to_string().contains("sender handle"), "{}", e);
    assert!(bincode::deserialize::<mpsc::Sender<u8>>(&[0]).is_err());
}
