// The seed's basic example: a goroutine sends, main receives.
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

	go func() {
		message := "Hello from the thread!"
		tx.Send([]byte(message))
	}()

	received, _ := rx.Recv()
	fmt.Println("Received:", string(received))
}
