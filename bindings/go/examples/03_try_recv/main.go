// The seed's try_recv: poll without blocking, telling Empty from
// Disconnected.
package main

import (
	"fmt"
	"time"

	mpsc "github.com/mpsc-dev/mpsc/bindings/go"
)

func main() {
	tx, rx, err := mpsc.Channel()
	if err != nil {
		panic(err)
	}

	go func() {
		defer tx.Close()
		for i := 0; i < 3; i++ {
			tx.Send([]byte{byte(i)})
			time.Sleep(500 * time.Millisecond)
		}
	}()

	for {
		value, err := rx.TryRecv()
		switch err {
		case nil:
			fmt.Println("Received:", value[0])
		case mpsc.ErrEmpty:
			fmt.Println("No message yet, performing other work...")
			time.Sleep(200 * time.Millisecond)
		case mpsc.ErrDisconnected:
			fmt.Println("Channel closed, no further messages.")
			return
		}
	}
}
