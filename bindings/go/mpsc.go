// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

// Package mpsc gives Go programs Rust-style channels between threads and
// processes, over the /dev/mpsc kernel device: many senders, one receiver,
// whole messages in order, and a receiver that learns when every sender is
// gone.
//
//	tx, rx, err := mpsc.Channel()
//	tx2, _ := tx.Clone()
//	tx.Send([]byte("hello"))
//	tx.Close()
//	tx2.Close()             // the last sender: Recv reports ErrDisconnected
//	for msg := range rx.Chan() { ... }
//
// Only the standard library (syscall, unsafe) is used.  Messages are byte
// slices of at least one byte.
package mpsc

import (
	"errors"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// Device is the character device that serves the channels.
const Device = "/dev/mpsc"

// The ABI of uapi/linux/mpsc.h; mpsc_test.go checks it against the header.
const iocMagic = 0xB8

type cloneArgs struct {
	Flags    uint32
	Fd       int32
	Reserved [2]uint64
}

// Info is a snapshot of a channel (MPSC_IOC_INFO).
type Info struct {
	Flags         uint32
	State         uint32
	ID            uint64
	QueuedMsgs    uint64
	QueuedBytes   uint64
	MaxQueueBytes uint64
	MaxMsgSize    uint64
	Capacity      uint64
	Senders       uint64
	Sent          uint64
	Received      uint64
	QueuedMem     uint64
	Reserved      [5]uint64
}

type capacityArgs struct {
	Capacity uint64
	Flags    uint32
	Reserved uint32
}

type xfer struct {
	Buf       uint64
	Len       uint64
	TimeoutNs uint64
	Flags     uint32
	Reserved0 uint32
	Reserved  [2]uint64
}

func ioc(dir, nr, size uintptr) uintptr {
	return dir<<30 | size<<16 | iocMagic<<8 | nr
}

var (
	iocCloneSender = ioc(3, 0x01, unsafe.Sizeof(cloneArgs{}))
	iocDisconnect  = ioc(0, 0x02, 0)
	iocInfo        = ioc(3, 0x03, unsafe.Sizeof(Info{}))
	iocSetCapacity = ioc(1, 0x05, unsafe.Sizeof(capacityArgs{}))
	iocClose       = ioc(0, 0x06, 0)
	iocSend        = ioc(3, 0x07, unsafe.Sizeof(xfer{}))
	iocRecv        = ioc(3, 0x08, unsafe.Sizeof(xfer{}))
)

// CapacityUnbounded lifts the message-count limit (the byte limit stays).
const CapacityUnbounded = ^uint64(0)

// Errors, in Rust's terms.
var (
	// ErrDisconnected: every sender is gone and the queue is drained
	// (receiving), or the receiver is gone or closed (sending).
	ErrDisconnected = errors.New("mpsc: channel disconnected")
	// ErrEmpty: TryRecv found no message, but a sender is left.
	ErrEmpty = errors.New("mpsc: channel empty")
	// ErrFull: TrySend found no room (rendezvous: no receiver waiting).
	ErrFull = errors.New("mpsc: channel full")
	// ErrTimeout: the deadline of RecvTimeout or SendTimeout passed.
	ErrTimeout = errors.New("mpsc: timed out")
	// ErrEmptyMessage: a message must carry at least one byte.
	ErrEmptyMessage = errors.New("mpsc: empty message")
)

func ioctl(fd int, req uintptr, arg unsafe.Pointer) (int, error) {
	for {
		r, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req,
			uintptr(arg))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
}

func clone(fd int) (int, error) {
	args := cloneArgs{Flags: syscall.O_CLOEXEC, Fd: -1}
	nfd, err := ioctl(fd, iocCloneSender, unsafe.Pointer(&args))
	if err == syscall.EPIPE {
		return -1, ErrDisconnected
	}
	return nfd, err
}

func open(capacity *uint64) (*Sender, *Receiver, error) {
	rx, err := syscall.Open(Device, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*Sender, *Receiver, error) {
		syscall.Close(rx)
		return nil, nil, err
	}
	if capacity != nil {
		args := capacityArgs{Capacity: *capacity}
		if _, err := ioctl(rx, iocSetCapacity, unsafe.Pointer(&args)); err != nil {
			return fail(err)
		}
	}
	tx, err := clone(rx)
	if err != nil {
		return fail(err)
	}
	// rx and tx are separate handles, as Rust's (tx, rx).
	if _, err := ioctl(rx, iocDisconnect, nil); err != nil {
		syscall.Close(tx)
		return fail(err)
	}
	r := &Receiver{fd: rx}
	info, err := r.Info()
	if err != nil {
		syscall.Close(tx)
		return fail(err)
	}
	r.max = int(info.MaxMsgSize)
	return &Sender{fd: tx}, r, nil
}

// Channel creates an unbounded channel (bounded by bytes only), Rust's
// mpsc::channel().
func Channel() (*Sender, *Receiver, error) {
	return open(nil)
}

// SyncChannel creates a channel of at most capacity queued messages, Go's
// make(chan T, capacity).  A capacity of 0 is a rendezvous channel: Send
// returns once a receiver has taken the message.
func SyncChannel(capacity uint64) (*Sender, *Receiver, error) {
	return open(&capacity)
}

// Sender sends messages; Clone makes more, Close drops one.
type Sender struct {
	fd int
}

// Fd returns the sender's file descriptor.
func (s *Sender) Fd() int { return s.fd }

// SenderFromFd wraps a sender fd handed over by other code (for instance
// inside a message, within one process), taking ownership of it.
func SenderFromFd(fd int) *Sender { return &Sender{fd: fd} }

// Clone returns one more sender of the same channel, with its own fd.
func (s *Sender) Clone() (*Sender, error) {
	fd, err := clone(s.fd)
	if err != nil {
		return nil, err
	}
	return &Sender{fd: fd}, nil
}

// Close drops this sender, like closing a Go channel from its sending
// side: once every sender is closed the receiver sees ErrDisconnected.
func (s *Sender) Close() error {
	return syscall.Close(s.fd)
}

func sendErr(err error) error {
	switch err {
	case syscall.EPIPE:
		return ErrDisconnected
	case syscall.EAGAIN:
		return ErrFull
	case syscall.ETIMEDOUT:
		return ErrTimeout
	}
	return err
}

// Send sends msg, waiting for room on a full channel (on a rendezvous
// channel: until a receiver takes it).
func (s *Sender) Send(msg []byte) error {
	if len(msg) == 0 {
		return ErrEmptyMessage
	}
	for {
		_, err := syscall.Write(s.fd, msg)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return sendErr(err)
		}
		return nil
	}
}

func (s *Sender) xsend(msg []byte, timeout uint64) error {
	if len(msg) == 0 {
		return ErrEmptyMessage
	}
	buf := make([]byte, len(msg))
	copy(buf, msg)
	x := xfer{Buf: uint64(uintptr(unsafe.Pointer(&buf[0]))),
		Len: uint64(len(buf)), TimeoutNs: timeout}
	_, err := ioctl(s.fd, iocSend, unsafe.Pointer(&x))
	runtime.KeepAlive(buf)
	return sendErr(err)
}

// TrySend sends msg without waiting: ErrFull when there is no room.
func (s *Sender) TrySend(msg []byte) error {
	return s.xsend(msg, 0)
}

// SendTimeout sends msg, waiting at most d for room: ErrTimeout then.
func (s *Sender) SendTimeout(msg []byte, d time.Duration) error {
	if d <= 0 {
		if err := s.TrySend(msg); err != ErrFull {
			return err
		}
		return ErrTimeout
	}
	err := s.xsend(msg, uint64(d))
	if err == ErrFull {
		err = ErrTimeout
	}
	return err
}

// Receiver receives the messages of one channel.
type Receiver struct {
	fd  int
	max int
}

// Fd returns the receiver's file descriptor.
func (r *Receiver) Fd() int { return r.fd }

// Close releases the receiver: senders then see ErrDisconnected.
func (r *Receiver) Close() error {
	return syscall.Close(r.fd)
}

// Info returns a snapshot of the channel.
func (r *Receiver) Info() (Info, error) {
	var info Info
	_, err := ioctl(r.fd, iocInfo, unsafe.Pointer(&info))
	return info, err
}

// Recv waits for a message; ErrDisconnected once every sender is gone and
// the queue is drained.
func (r *Receiver) Recv() ([]byte, error) {
	buf := make([]byte, r.max)
	for {
		n, err := syscall.Read(r.fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, ErrDisconnected
		}
		return buf[:n], nil
	}
}

func (r *Receiver) xrecv(timeout uint64) ([]byte, error) {
	buf := make([]byte, r.max)
	x := xfer{Buf: uint64(uintptr(unsafe.Pointer(&buf[0]))),
		Len: uint64(len(buf)), TimeoutNs: timeout}
	n, err := ioctl(r.fd, iocRecv, unsafe.Pointer(&x))
	runtime.KeepAlive(buf)
	switch {
	case err == syscall.EAGAIN:
		return nil, ErrEmpty
	case err == syscall.ETIMEDOUT:
		return nil, ErrTimeout
	case err != nil:
		return nil, err
	case n == 0:
		return nil, ErrDisconnected
	}
	return buf[:n], nil
}

// TryRecv returns a queued message without waiting: ErrEmpty when there is
// none, ErrDisconnected at the end.
func (r *Receiver) TryRecv() ([]byte, error) {
	return r.xrecv(0)
}

// RecvTimeout waits at most d for a message: ErrTimeout then.
func (r *Receiver) RecvTimeout(d time.Duration) ([]byte, error) {
	if d <= 0 {
		m, err := r.TryRecv()
		if err == ErrEmpty {
			err = ErrTimeout
		}
		return m, err
	}
	return r.xrecv(uint64(d))
}

// Shutdown refuses new messages and keeps the queued ones (tokio's
// Receiver::close); Recv drains them, then reports ErrDisconnected.
func (r *Receiver) Shutdown() error {
	_, err := ioctl(r.fd, iocClose, nil)
	return err
}

// Chan bridges the receiver into a Go channel, to use it in a select.  A
// goroutine receives until the channel disconnects, then closes the Go
// channel.  Call it once; do not call Recv meanwhile.
func (r *Receiver) Chan() <-chan []byte {
	ch := make(chan []byte)
	go func() {
		defer close(ch)
		for {
			msg, err := r.Recv()
			if err != nil {
				return
			}
			ch <- msg
		}
	}()
	return ch
}
