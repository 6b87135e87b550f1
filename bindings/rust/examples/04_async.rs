// The seed's tokio example, only the import changed.
use mpsc_dev::tokio as mpsc; // was: use tokio::sync::mpsc;

#[tokio::main]
async fn main() {
    // Create a bounded asynchronous channel with a capacity of 32 messages.
    let (tx, mut rx) = mpsc::channel(32);

    // Spawn an asynchronous task to send a message.
    tokio::spawn(async move {
        let message = "Hello from an async task!".to_string();
        tx.send(message).await.unwrap();
    });

    // Await and handle the incoming message.
    if let Some(received) = rx.recv().await {
        println!("Async received: {}", received);
    }
}
