// The pipeline of "Go Concurrency Patterns: Pipelines and cancellation"
// (the Go blog) over mpsc: examples/09_pipeline_chan with each unbuffered
// Go channel made a rendezvous mpsc channel.  Go's channels are syntax,
// not a package, so four lines change besides the import, each marked
// "was:"; the rest, ranges over receive-only channels included, is as it
// was, and the Go tests check that both programs print the same.
package main

import (
	"fmt"
	"sort"
	"sync"

	mpsc "github.com/mpsc-dev/mpsc/bindings/go"
)

func gen(nums ...int) <-chan int {
	out, rx, _ := mpsc.TypedSyncChannel(0, mpsc.Gob[int]()) // was: out := make(chan int)
	go func() {
		for _, n := range nums {
			out.Send(n) // was: out <- n
		}
		out.Close() // was: close(out)
	}()
	return rx.Chan() // was: return out
}

func sq(in <-chan int) <-chan int {
	out, rx, _ := mpsc.TypedSyncChannel(0, mpsc.Gob[int]()) // was: out := make(chan int)
	go func() {
		for n := range in {
			out.Send(n * n) // was: out <- n * n
		}
		out.Close() // was: close(out)
	}()
	return rx.Chan() // was: return out
}

func merge(cs ...<-chan int) <-chan int {
	var wg sync.WaitGroup
	out, rx, _ := mpsc.TypedSyncChannel(0, mpsc.Gob[int]()) // was: out := make(chan int)

	// Start an output goroutine for each input channel in cs.  output
	// copies values from c to out until c is closed, then calls wg.Done.
	output := func(c <-chan int) {
		for n := range c {
			out.Send(n) // was: out <- n
		}
		wg.Done()
	}
	wg.Add(len(cs))
	for _, c := range cs {
		go output(c)
	}

	// Start a goroutine to close out once all the output goroutines are
	// done.  This must start after the wg.Add call.
	go func() {
		wg.Wait()
		out.Close() // was: close(out)
	}()
	return rx.Chan() // was: return out
}

func main() {
	// Set up the pipeline and consume the output.
	for n := range sq(sq(gen(2, 3))) {
		fmt.Println(n) // 16 then 81
	}

	in := gen(1, 2, 3, 4, 5, 6, 7, 8)

	// Distribute the sq work across two goroutines that both read from in.
	c1 := sq(in)
	c2 := sq(in)

	// Consume the merged output from c1 and c2 (in any order: sorted).
	var all []int
	for n := range merge(c1, c2) {
		all = append(all, n)
	}
	sort.Ints(all)
	fmt.Println(all)
}
