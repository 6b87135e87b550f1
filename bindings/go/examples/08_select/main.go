// Beyond the seed: mpsc receivers bridged into Go channels, so that one
// select waits on two mpsc channels and a timer.
package main

import (
	"fmt"
	"time"

	mpsc "github.com/mpsc-dev/mpsc/bindings/go"
)

func main() {
	jobsTx, jobs, _ := mpsc.Channel()
	quitTx, quit, _ := mpsc.Channel()
	jobsC, quitC := jobs.Chan(), quit.Chan()

	go func() {
		for i := 1; i <= 3; i++ {
			jobsTx.Send([]byte(fmt.Sprintf("job %d", i)))
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		quitTx.Send([]byte("quit"))
	}()

	for {
		select {
		case job := <-jobsC:
			fmt.Println("got", string(job))
		case <-quitC:
			fmt.Println("quit received, stopping")
			return
		case <-time.After(5 * time.Second):
			fmt.Println("timeout")
			return
		}
	}
}
