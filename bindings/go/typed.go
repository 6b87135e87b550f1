// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package mpsc

import (
	"bytes"
	"context"
	"encoding/gob"
	"time"
)

// Codec turns values of type T into message bytes and back.  Bytes (the
// default, for Sender and Receiver), String and Gob are provided; any
// other codec is a type with these two methods, or Func.
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(msg []byte) (T, error)
}

type bytesCodec struct{}

func (bytesCodec) Encode(v []byte) ([]byte, error)   { return v, nil }
func (bytesCodec) Decode(msg []byte) ([]byte, error) { return msg, nil }

type stringCodec struct{}

func (stringCodec) Encode(v string) ([]byte, error)   { return []byte(v), nil }
func (stringCodec) Decode(msg []byte) (string, error) { return string(msg), nil }

type gobCodec[T any] struct{}

func (gobCodec[T]) Encode(v T) ([]byte, error) {
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(&v)
	return buf.Bytes(), err
}

func (gobCodec[T]) Decode(msg []byte) (T, error) {
	var v T
	err := gob.NewDecoder(bytes.NewReader(msg)).Decode(&v)
	return v, err
}

type funcCodec[T any] struct {
	enc func(T) ([]byte, error)
	dec func([]byte) (T, error)
}

func (c funcCodec[T]) Encode(v T) ([]byte, error)   { return c.enc(v) }
func (c funcCodec[T]) Decode(msg []byte) (T, error) { return c.dec(msg) }

// Bytes is the identity codec: what Sender and Receiver carry.
func Bytes() Codec[[]byte] { return bytesCodec{} }

// String carries strings as their bytes.
func String() Codec[string] { return stringCodec{} }

// Gob carries any type encoding/gob can encode, each message encoded on
// its own (with its type description), so any receiver can decode it.
func Gob[T any]() Codec[T] { return gobCodec[T]{} }

// Func makes a codec of two functions (encoding/json's Marshal and a
// wrapper of Unmarshal, say).
func Func[T any](enc func(T) ([]byte, error), dec func([]byte) (T, error)) Codec[T] {
	return funcCodec[T]{enc: enc, dec: dec}
}

// TypedSender sends values of type T through a codec.
type TypedSender[T any] struct {
	s     *Sender
	codec Codec[T]
}

// TypedReceiver receives values of type T through a codec.
type TypedReceiver[T any] struct {
	r     *Receiver
	codec Codec[T]
}

// TypedChannel is Channel carrying values of type T.
func TypedChannel[T any](codec Codec[T]) (*TypedSender[T], *TypedReceiver[T], error) {
	s, r, err := Channel()
	if err != nil {
		return nil, nil, err
	}
	return NewTypedSender(s, codec), NewTypedReceiver(r, codec), nil
}

// TypedSyncChannel is SyncChannel carrying values of type T: Go's
// make(chan T, capacity).
func TypedSyncChannel[T any](capacity uint64, codec Codec[T]) (*TypedSender[T], *TypedReceiver[T], error) {
	s, r, err := SyncChannel(capacity)
	if err != nil {
		return nil, nil, err
	}
	return NewTypedSender(s, codec), NewTypedReceiver(r, codec), nil
}

// NewTypedSender wraps s, which it then owns.
func NewTypedSender[T any](s *Sender, codec Codec[T]) *TypedSender[T] {
	return &TypedSender[T]{s: s, codec: codec}
}

// NewTypedReceiver wraps r, which it then owns.
func NewTypedReceiver[T any](r *Receiver, codec Codec[T]) *TypedReceiver[T] {
	return &TypedReceiver[T]{r: r, codec: codec}
}

// Sender returns the underlying byte sender.
func (t *TypedSender[T]) Sender() *Sender { return t.s }

// Send encodes v and sends it; see Sender.Send.
func (t *TypedSender[T]) Send(v T) error {
	msg, err := t.codec.Encode(v)
	if err != nil {
		return err
	}
	return t.s.Send(msg)
}

// SendContext encodes v and sends it; see Sender.SendContext.
func (t *TypedSender[T]) SendContext(ctx context.Context, v T) error {
	msg, err := t.codec.Encode(v)
	if err != nil {
		return err
	}
	return t.s.SendContext(ctx, msg)
}

// TrySend encodes v and sends it without waiting; see Sender.TrySend.
func (t *TypedSender[T]) TrySend(v T) error {
	msg, err := t.codec.Encode(v)
	if err != nil {
		return err
	}
	return t.s.TrySend(msg)
}

// SendTimeout encodes v and sends it, waiting at most d.
func (t *TypedSender[T]) SendTimeout(v T, d time.Duration) error {
	msg, err := t.codec.Encode(v)
	if err != nil {
		return err
	}
	return t.s.SendTimeout(msg, d)
}

// SendWithSenders encodes v and sends it carrying the senders handles;
// see Sender.SendWithSenders.  Senders ride beside the value, not inside
// it: the codec never sees them, and the receiver's RecvWithSenders
// returns them in the same order, so a value that needs several refers
// to them by position.  A typed sender travels as its Sender() and is
// wrapped again on arrival with NewTypedSender and its codec.
func (t *TypedSender[T]) SendWithSenders(v T, handles ...*Sender) error {
	msg, err := t.codec.Encode(v)
	if err != nil {
		return err
	}
	return t.s.SendWithSenders(msg, handles...)
}

// Clone returns one more sender of the same channel.
func (t *TypedSender[T]) Clone() (*TypedSender[T], error) {
	s, err := t.s.Clone()
	if err != nil {
		return nil, err
	}
	return NewTypedSender(s, t.codec), nil
}

// Close drops this sender; see Sender.Close.
func (t *TypedSender[T]) Close() error { return t.s.Close() }

// Receiver returns the underlying byte receiver.
func (t *TypedReceiver[T]) Receiver() *Receiver { return t.r }

func (t *TypedReceiver[T]) decode(msg []byte, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return t.codec.Decode(msg)
}

// Recv waits for a value; see Receiver.Recv.
func (t *TypedReceiver[T]) Recv() (T, error) { return t.decode(t.r.Recv()) }

// RecvContext waits for a value until ctx ends; see Receiver.RecvContext.
func (t *TypedReceiver[T]) RecvContext(ctx context.Context) (T, error) {
	return t.decode(t.r.RecvContext(ctx))
}

// TryRecv returns a queued value without waiting; see Receiver.TryRecv.
func (t *TypedReceiver[T]) TryRecv() (T, error) { return t.decode(t.r.TryRecv()) }

// RecvWithSenders waits for a value and the senders that came with it;
// see Receiver.RecvWithSenders and TypedSender.SendWithSenders.  When the
// value does not decode, the senders are closed.
func (t *TypedReceiver[T]) RecvWithSenders() (T, []*Sender, error) {
	msg, senders, err := t.r.RecvWithSenders()
	v, err := t.decode(msg, err)
	if err != nil {
		for _, s := range senders {
			s.Close()
		}
		return v, nil, err
	}
	return v, senders, nil
}

// RecvTimeout waits at most d for a value.
func (t *TypedReceiver[T]) RecvTimeout(d time.Duration) (T, error) {
	return t.decode(t.r.RecvTimeout(d))
}

// Chan bridges the receiver into a Go channel of T; see Receiver.Chan.
// A message that does not decode stops the bridge (StopChan reports the
// error) and stays first in line for a receive.
func (t *TypedReceiver[T]) Chan() <-chan T { return t.ChanContext(context.Background()) }

// ChanContext is Chan that also stops when ctx ends.
func (t *TypedReceiver[T]) ChanContext(ctx context.Context) <-chan T {
	return startBridge(t.r, ctx, t.codec.Decode)
}

// StopChan stops the bridge and reports why it ended; see
// Receiver.StopChan.
func (t *TypedReceiver[T]) StopChan() error { return t.r.StopChan() }

// Close releases the receiver; see Receiver.Close.
func (t *TypedReceiver[T]) Close() error { return t.r.Close() }
