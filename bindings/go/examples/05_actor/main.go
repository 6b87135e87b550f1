// The seed's actor, across processes: the actor is a process of its own
// (this program run again with the argument "actor") that owns its state
// and serves requests from a channel it inherits.  Each request carries
// the sender of its reply channel inside the message, as Rust's
// Sender<(Request, Sender<Response>)> does: no socket, no fd numbers.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	mpsc "github.com/mpsc-dev/mpsc/bindings/go"
)

// myActor answers each request on the channel that came with it.  The
// loop ends when every address is gone.
func myActor(requests *mpsc.TypedReceiver[string]) {
	for {
		text, senders, err := requests.RecvWithSenders()
		if err != nil {
			return
		}
		for i, s := range senders {
			if i == 0 {
				reply := mpsc.NewTypedSender(s, mpsc.String())
				reply.Send("Actor received: " + text)
			}
			s.Close() // the requester's channel disconnects
		}
	}
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "actor" {
		// The actor's process: its requests arrive on fd 3 (ExtraFiles).
		rx, err := mpsc.ReceiverFromFd(3)
		if err != nil {
			fmt.Fprintln(os.Stderr, "actor:", err)
			os.Exit(1)
		}
		myActor(mpsc.NewTypedReceiver(rx, mpsc.String()))
		return
	}

	// Start a new actor in its own process; addr is its address.
	addr, requests, err := mpsc.TypedChannel(mpsc.String())
	if err != nil {
		panic(err)
	}
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	fd, err := syscall.Dup(requests.Receiver().Fd())
	if err != nil {
		panic(err)
	}
	inherited := os.NewFile(uintptr(fd), "requests")
	actor := exec.Command(self, "actor")
	actor.Stdout, actor.Stderr = os.Stderr, os.Stderr
	actor.ExtraFiles = []*os.File{inherited}
	if err := actor.Start(); err != nil {
		panic(err)
	}
	inherited.Close()
	requests.Close() // the actor has its own

	// Send a message to the actor, with a channel for the response.
	replyTx, replyRx, _ := mpsc.TypedSyncChannel(1, mpsc.String())
	if err := addr.SendWithSenders("Hello, Actix!", replyTx.Sender()); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
	}
	replyTx.Close() // only the sender in the request is left

	if response, err := replyRx.Recv(); err == nil {
		fmt.Println(response)
	} else {
		fmt.Println("Failed to receive response from actor.")
	}
	addr.Close() // the actor's address is gone: it stops
	actor.Wait()
}
