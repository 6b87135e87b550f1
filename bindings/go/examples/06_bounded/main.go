// Backpressure: a bounded channel of 2; the third send must wait until
// the receiver makes room.
package main

import (
	"fmt"
	"time"

	mpsc "github.com/mpsc-dev/mpsc/bindings/go"
)

func main() {
	tx, rx, err := mpsc.SyncChannel(2)
	if err != nil {
		panic(err)
	}
	done := make(chan []byte)
	go func() {
		time.Sleep(100 * time.Millisecond)
		var got []byte
		for {
			m, err := rx.Recv()
			if err != nil {
				break
			}
			got = append(got, m[0])
		}
		done <- got
	}()

	tx.TrySend([]byte{1})
	fmt.Println("sent 1")
	tx.TrySend([]byte{2})
	fmt.Println("sent 2")
	if tx.TrySend([]byte{3}) == mpsc.ErrFull {
		fmt.Println("channel full: 3 must wait (backpressure)")
	}
	tx.Send([]byte{3})
	fmt.Println("sent 3 once the receiver made room")
	tx.Close()
	for _, v := range <-done {
		fmt.Println("received", v)
	}
}
