// The seed's "Basic Message Passing Example", only the import changed.
use std::thread;
use mpsc_dev as mpsc; // was: use std::sync::mpsc;

fn main() {
    // Create a channel (Sender, Receiver pair)
    let (tx, rx) = mpsc::channel();

    // Spawn a new thread which sends a message.
    thread::spawn(move || {
        let message = String::from("Hello from the thread!");
        // Send the message using the Sender.
        tx.send(message).unwrap();
    });

    // The main thread receives the message.
    let received = rx.recv().unwrap();
    println!("Received: {}", received);
}
