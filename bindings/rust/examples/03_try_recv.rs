// The seed's try_recv example, only the import changed.
use mpsc_dev::{self as mpsc, TryRecvError}; // was: use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::Duration;

fn main() {
    let (tx, rx) = mpsc::channel();

    thread::spawn(move || {
        for i in 0..3 {
            tx.send(i).unwrap();
            thread::sleep(Duration::from_millis(500));
        }
    });

    loop {
        match rx.try_recv() {
            Ok(value) => println!("Received: {}", value),
            Err(TryRecvError::Empty) => {
                println!("No message yet, performing other work...");
                thread::sleep(Duration::from_millis(200));
            },
            Err(TryRecvError::Disconnected) => {
                println!("Channel closed, no further messages.");
                break;
            },
        }
    }
}
