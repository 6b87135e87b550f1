// The seed's "Multiple Producers", only the import changed.
use mpsc_dev as mpsc; // was: use std::sync::mpsc;
use std::thread;

fn main() {
    let (tx, rx) = mpsc::channel();

    // Spawn several threads; each thread clones the sender.
    for i in 0..5 {
        let thread_tx = tx.clone();
        thread::spawn(move || {
            let msg = format!("Message from thread {}", i);
            thread_tx.send(msg).unwrap();
        });
    }
    // Drop the original sender to indicate no more messages will be sent.
    drop(tx);

    // Receive and print each incoming message.
    for received in rx {
        println!("{}", received);
    }
}
