// The seed's multiple producers: each goroutine has its own clone of the
// sender; closing the original lets the loop end with the last clone.
package main

import (
	"fmt"

	mpsc "github.com/mpsc-dev/mpsc/bindings/go"
)

func main() {
	tx, rx, err := mpsc.Channel()
	if err != nil {
		panic(err)
	}

	for i := 0; i < 5; i++ {
		threadTx, _ := tx.Clone()
		go func(i int) {
			defer threadTx.Close()
			threadTx.Send([]byte(fmt.Sprintf("Message from thread %d", i)))
		}(i)
	}
	// Drop the original sender to indicate no more messages will be sent.
	tx.Close()

	for {
		received, err := rx.Recv()
		if err == mpsc.ErrDisconnected {
			break
		}
		fmt.Println(string(received))
	}
}
