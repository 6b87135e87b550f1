// The seed's tokio example: a bounded channel of 32, a goroutine (Go's
// async task) that sends, and a receive in main.
package main

import (
	"fmt"

	mpsc "github.com/mpsc-dev/mpsc/bindings/go"
)

func main() {
	tx, rx, err := mpsc.SyncChannel(32)
	if err != nil {
		panic(err)
	}

	go func() {
		message := "Hello from an async task!"
		tx.Send([]byte(message))
	}()

	if received, err := rx.Recv(); err == nil {
		fmt.Println("Async received:", string(received))
	}
}
