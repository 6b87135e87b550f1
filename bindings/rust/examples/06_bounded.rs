// Backpressure: a bounded channel of 2; the third send must wait until
// the receiver makes room.
use mpsc_dev::{self as mpsc, TrySendError};
use std::thread;
use std::time::Duration;

fn main() {
    let (tx, rx) = mpsc::sync_channel(2);
    let consumer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        rx.iter().collect::<Vec<u32>>()
    });

    tx.try_send(1).unwrap();
    println!("sent 1");
    tx.try_send(2).unwrap();
    println!("sent 2");
    if let Err(TrySendError::Full(3)) = tx.try_send(3) {
        println!("channel full: 3 must wait (backpressure)");
    }
    tx.send(3).unwrap();
    println!("sent 3 once the receiver made room");
    drop(tx);
    for value in consumer.join().unwrap() {
        println!("received {}", value);
    }
}
