// The seed's actor example, across processes.  Actix is not packaged in
// Debian, so the actor system is the smallest one that keeps the seed's
// shape: an actor that owns its state, typed messages with a result type,
// and an address whose send() returns the handler's result.  The actor
// runs in a process of its own, and each request carries the sender of
// its reply channel inside the message, Sender<(Request, Sender<Response>)>
// as with std inside one process: no socket, no fd numbers.
use mpsc_dev as mpsc;

// Define an actor.
struct MyActor;

// Define a message type.
struct MyMessage(String);

// A request: the message, and where its response goes.
type Request = (String, mpsc::Sender<String>);

// Implement a Handler for the message.
impl MyActor {
    fn handle(&mut self, msg: MyMessage) -> String {
        format!("Actor received: {}", msg.0)
    }

    // Start the actor in its own process; return its address.
    fn start(mut self) -> Addr {
        let (tx, rx) = mpsc::channel::<Request>();
        // SAFETY: no other thread is running; the child only uses the
        // channel and exits without returning.
        match unsafe { libc::fork() } {
            -1 => panic!("fork: {}", std::io::Error::last_os_error()),
            0 => {
                drop(tx);
                // The loop ends when every address is gone.
                for (text, reply) in rx {
                    let _ = reply.send(self.handle(MyMessage(text)));
                    // Dropping `reply` disconnects the requester's channel.
                }
                // SAFETY: _exit ends the child without running the
                // parent's atexit handlers or flushing its stdio twice.
                unsafe { libc::_exit(0) }
            }
            pid => Addr { tx: Some(tx), actor: pid },
        }
    }
}

struct Addr {
    tx: Option<mpsc::Sender<Request>>,
    actor: libc::pid_t,
}

impl Addr {
    fn send(&self, msg: MyMessage) -> Result<String, mpsc::RecvError> {
        let (reply_tx, reply_rx) = mpsc::channel();
        let tx = self.tx.as_ref().ok_or(mpsc::RecvError)?;
        tx.send((msg.0, reply_tx)).map_err(|_| mpsc::RecvError)?;
        reply_rx.recv()
    }
}

impl Drop for Addr {
    // The address is gone: the actor stops, and its process is reaped.
    fn drop(&mut self) {
        drop(self.tx.take());
        let mut status = 0;
        // SAFETY: waits for our own child.
        unsafe { libc::waitpid(self.actor, &mut status, 0) };
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
