// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package mpsc

import (
	"context"
)

// bridge is a goroutine that receives messages and hands them to a Go
// channel.  It takes a message from the kernel only to hand it on: when
// it is stopped while holding one, it puts the message back in front of
// the receiver's queue (Receiver.pending), so nothing is lost.
type bridge struct {
	c      any // the Go channel, chan []byte or chan T
	cancel context.CancelFunc
	done   chan struct{}
	err    error // why it ended; read after done is closed
}

// startBridge runs a bridge delivering decode(message) on a new channel,
// or returns the running one (whose channel must then be a chan T).
func startBridge[T any](r *Receiver, ctx context.Context,
	decode func([]byte) (T, error)) <-chan T {
	r.mu.Lock()
	if b := r.br; b != nil {
		select {
		case <-b.done:
		default:
			if c, ok := b.c.(chan T); ok {
				r.mu.Unlock()
				return c
			}
		}
	}
	r.mu.Unlock()
	r.StopChan()

	c := make(chan T)
	inner, cancel := context.WithCancel(ctx)
	b := &bridge{c: c, cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	r.br = b
	r.mu.Unlock()
	go func() {
		defer close(b.done)
		defer close(c)
		defer cancel()
		for {
			msg, _, err := r.recv(inner, nil, false)
			if err != nil {
				switch {
				case err == ErrDisconnected:
				case inner.Err() != nil && ctx.Err() == nil:
					// stopped by StopChan or Close
					if err == ErrClosed {
						b.err = err
					}
				default:
					b.err = err
				}
				return
			}
			v, err := decode(msg)
			if err != nil {
				r.unread(msg)
				b.err = err
				return
			}
			select {
			case c <- v:
			case <-inner.Done():
				r.unread(msg)
				if ctx.Err() != nil {
					b.err = ctx.Err()
				}
				return
			}
		}
	}()
	return c
}

// Chan bridges the receiver into a Go channel, to use it in a select or
// a range loop.  A goroutine receives until the channel disconnects, then
// closes the Go channel; StopChan, Close or any receive method (Recv,
// TryRecv, ...) stops it earlier.  It never loses a message: one it holds
// when stopped is the next one a receive returns.  Calling Chan again
// while it runs returns the same Go channel.
func (r *Receiver) Chan() <-chan []byte {
	return r.ChanContext(context.Background())
}

// ChanContext is Chan whose bridge also stops when ctx ends; StopChan
// then reports ctx.Err().
func (r *Receiver) ChanContext(ctx context.Context) <-chan []byte {
	return startBridge(r, ctx, func(b []byte) ([]byte, error) { return b, nil })
}

// StopChan stops the bridge of Chan, if one runs, waits for it to end,
// and reports why it ended: nil when the channel disconnected or StopChan
// stopped it; ctx.Err() for ChanContext's context; ErrClosed after Close;
// a decoding or I/O error otherwise.  The Go channel is closed by then.
// After the Go channel closed by itself, StopChan still tells why.
func (r *Receiver) StopChan() error {
	r.mu.Lock()
	b := r.br
	r.mu.Unlock()
	if b == nil {
		return nil
	}
	b.cancel()
	<-b.done
	return b.err
}
