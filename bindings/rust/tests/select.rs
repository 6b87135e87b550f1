// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! crossbeam's Select over mpsc receivers and senders.

use mpsc_dev::{self as mpsc, ReadyTimeoutError, RecvError, Select, SelectTimeoutError, TryReadyError, TrySelectError};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn select_picks_the_receiver_with_a_message() {
    let (_tx1, rx1) = mpsc::channel::<u32>();
    let (tx2, rx2) = mpsc::channel::<String>();
    tx2.send("two".to_string()).unwrap();
    let mut sel = Select::new();
    let i1 = sel.recv(&rx1);
    let i2 = sel.recv(&rx2);
    let oper = sel.select();
    assert_eq!(oper.index(), i2);
    assert_ne!(i1, i2);
    assert_eq!(oper.recv(&rx2), Ok("two".to_string()));
    assert!(rx2.is_empty(), "select took the message it chose");
}

#[test]
fn select_send_on_a_channel_with_room() {
    let (tx_full, _rx_full) = mpsc::sync_channel::<u8>(1);
    tx_full.send(0).unwrap();
    let (tx, rx) = mpsc::sync_channel::<u8>(1);
    let mut sel = Select::new();
    let full = sel.send(&tx_full);
    let room = sel.send(&tx);
    let oper = sel.select_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(oper.index(), room);
    assert_ne!(full, room);
    oper.send(&tx, 42).unwrap();
    assert_eq!(rx.recv(), Ok(42));
}

#[test]
fn select_waits_for_a_sender_thread() {
    let (tx, rx) = mpsc::channel::<u64>();
    let (_tx2, rx2) = mpsc::channel::<u64>();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(30));
        tx.send(5).unwrap();
    });
    let mut sel = Select::new();
    let a = sel.recv(&rx);
    sel.recv(&rx2);
    let oper = sel.select();
    assert_eq!(oper.index(), a);
    assert_eq!(oper.recv(&rx), Ok(5));
    t.join().unwrap();
}

#[test]
fn select_reports_disconnection_as_ready() {
    let (tx, rx) = mpsc::channel::<u8>();
    drop(tx);
    let mut sel = Select::new();
    sel.recv(&rx);
    let oper = sel.select();
    assert_eq!(oper.recv(&rx), Err(RecvError));
}

#[test]
fn timeouts_and_tries() {
    let (_tx, rx) = mpsc::channel::<u8>();
    let mut sel = Select::new();
    sel.recv(&rx);
    assert_eq!(sel.try_select().unwrap_err(), TrySelectError);
    assert_eq!(sel.try_ready(), Err(TryReadyError));
    let start = Instant::now();
    assert_eq!(sel.select_timeout(Duration::from_millis(40)).unwrap_err(), SelectTimeoutError);
    assert!(start.elapsed() >= Duration::from_millis(40));
    assert_eq!(sel.ready_timeout(Duration::from_millis(10)), Err(ReadyTimeoutError));
}

#[test]
fn ready_then_try() {
    let (tx, rx) = mpsc::channel::<u8>();
    let (tx2, rx2) = mpsc::channel::<u8>();
    tx.send(1).unwrap();
    tx2.send(2).unwrap();
    let mut sel = Select::new();
    let a = sel.recv(&rx);
    let b = sel.recv(&rx2);
    let mut got = Vec::new();
    for _ in 0..2 {
        let i = sel.ready();
        if i == a {
            got.push(rx.try_recv().unwrap());
            sel.remove(a);
        } else if i == b {
            got.push(rx2.try_recv().unwrap());
            sel.remove(b);
        }
    }
    got.sort_unstable();
    assert_eq!(got, vec![1, 2]);
}

#[test]
fn select_takes_turns() {
    let (tx, rx) = mpsc::channel::<u8>();
    let (tx2, rx2) = mpsc::channel::<u8>();
    for _ in 0..4 {
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
    }
    let mut sel = Select::new();
    let a = sel.recv(&rx);
    let mut seen = [0; 2];
    for _ in 0..4 {
        let oper = sel.select();
        if oper.index() == a {
            oper.recv(&rx).unwrap();
            seen[0] += 1;
        } else {
            oper.recv(&rx2).unwrap();
            seen[1] += 1;
        }
        if seen[0] + seen[1] == 1 {
            sel.recv(&rx2);
        }
    }
    assert!(seen[0] > 0 && seen[1] > 0, "{:?}", seen);
}

#[test]
#[should_panic(expected = "wasn't selected")]
fn completing_with_another_receiver_panics() {
    let (tx, rx) = mpsc::channel::<u8>();
    let (_tx2, rx2) = mpsc::channel::<u8>();
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let oper = sel.select();
    let _ = oper.recv(&rx2);
}
