// The seed's actor example.  Actix is not packaged in Debian, so the actor
// system is the smallest one that keeps the seed's shape: an actor that
// owns its state on a thread, typed messages with a result type, and an
// address whose send() returns the handler's result through a reply
// channel that travels with the request.
use mpsc_dev as mpsc;
use std::os::unix::io::{FromRawFd, IntoRawFd};
use std::thread;

// Define an actor.
struct MyActor;

// Define a message type.
struct MyMessage(String);

// Implement a Handler for the message.
impl MyActor {
    fn handle(&mut self, msg: MyMessage) -> String {
        format!("Actor received: {}", msg.0)
    }

    // Start the actor on its own thread; return its address.
    fn start(mut self) -> Addr {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        thread::spawn(move || {
            for request in rx {
                // A request: the reply sender's fd, then the text.
                let fd = i32::from_le_bytes(request[..4].try_into().unwrap());
                let text = String::from_utf8(request[4..].to_vec()).unwrap();
                // SAFETY: the fd was handed over with the request.
                let reply: mpsc::Sender<String> = unsafe { mpsc::Sender::from_raw_fd(fd) };
                let _ = reply.send(self.handle(MyMessage(text)));
            }
        });
        Addr { tx }
    }
}

struct Addr {
    tx: mpsc::Sender<Vec<u8>>,
}

impl Addr {
    fn send(&self, msg: MyMessage) -> Result<String, mpsc::RecvError> {
        let (reply_tx, reply_rx) = mpsc::sync_channel::<String>(1);
        let mut request = reply_tx.clone().into_raw_fd().to_le_bytes().to_vec();
        drop(reply_tx);
        request.extend_from_slice(msg.0.as_bytes());
        self.tx.send(request).map_err(|_| mpsc::RecvError)?;
        reply_rx.recv()
    }
}

fn main() {
    // Start a new actor.
    let addr = MyActor.start();
    // Send a message to the actor.
    let res = addr.send(MyMessage("Hello, Actix!".to_owned()));
    match res {
        Ok(response) => println!("{}", response),
        Err(_) => println!("Failed to receive response from actor."),
    }
}
