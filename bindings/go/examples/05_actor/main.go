// The seed's actor: a goroutine owns its state and serves requests from a
// channel; each request carries the fd of a sender for the reply.
package main

import (
	"encoding/binary"
	"fmt"

	"mpsc"
)

func myActor(requests *mpsc.Receiver) {
	for {
		req, err := requests.Recv()
		if err != nil {
			return
		}
		replyFd := int(binary.LittleEndian.Uint32(req[:4]))
		reply := mpsc.SenderFromFd(replyFd)
		reply.Send([]byte("Actor received: " + string(req[4:])))
		reply.Close()
	}
}

func main() {
	addr, requests, err := mpsc.Channel()
	if err != nil {
		panic(err)
	}
	go myActor(requests)

	replyTx, replyRx, _ := mpsc.SyncChannel(1)
	forActor, _ := replyTx.Clone()
	replyTx.Close()
	req := make([]byte, 4)
	binary.LittleEndian.PutUint32(req, uint32(forActor.Fd()))
	addr.Send(append(req, "Hello, Actix!"...))

	if response, err := replyRx.Recv(); err == nil {
		fmt.Println(string(response))
	} else {
		fmt.Println("Failed to receive response from actor.")
	}
	addr.Close()
}
