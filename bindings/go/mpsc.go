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
// Handles are non-blocking fds wrapped in os.File, so a blocked Send or
// Recv parks its goroutine on the runtime's netpoller, not an OS thread;
// Close wakes it with ErrClosed, deadlines (SetDeadline) end it with
// ErrTimeout, which satisfies os.IsTimeout, and the Context variants end
// it with the context's error.  The one exception is a Send that must
// wait on a rendezvous channel (capacity 0): see SyncChannel.
//
// Messages are byte slices of at least one byte; the typed layer
// (TypedChannel, Codec) carries any type through a codec.  Senders travel
// inside messages (SendWithSenders, RecvWithSenders) to other processes
// as working senders, so a request can carry its reply channel.  Only
// the standard library is used.
package mpsc

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
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
	QueuedHandles uint64
	Reserved      [4]uint64
}

// Info.State bits.
const (
	StateReceiver = 1 << 0 // the handle is the receiver
	StateSender   = 1 << 1 // the handle holds a sender role
	StateRxOpen   = 1 << 2 // the receiver has not been released
	StateClosed   = 1 << 3 // the receiver called Shutdown
)

type peekArgs struct {
	Len      uint64
	Flags    uint32
	Reserved uint32
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
	Count     uint32
	Reserved  [2]uint64
}

func ioc(dir, nr, size uintptr) uintptr {
	return dir<<30 | size<<16 | iocMagic<<8 | nr
}

var (
	iocCloneSender = ioc(3, 0x01, unsafe.Sizeof(cloneArgs{}))
	iocDisconnect  = ioc(0, 0x02, 0)
	iocInfo        = ioc(3, 0x03, unsafe.Sizeof(Info{}))
	iocPeekLen     = ioc(3, 0x04, unsafe.Sizeof(peekArgs{}))
	iocSetCapacity = ioc(1, 0x05, unsafe.Sizeof(capacityArgs{}))
	iocClose       = ioc(0, 0x06, 0)
	iocSend        = ioc(3, 0x07, unsafe.Sizeof(xfer{}))
	iocRecv        = ioc(3, 0x08, unsafe.Sizeof(xfer{}))
)

// CapacityUnbounded lifts the message-count limit (the byte limit stays).
const CapacityUnbounded = ^uint64(0)

// chanError is the type of the package's errors: each says which
// standard errors it also is (errors.Is) and whether it is a timeout.
type chanError struct {
	msg     string
	timeout bool
	is      []error
}

func (e *chanError) Error() string { return e.msg }

// Timeout reports whether the error is a timeout, for os.IsTimeout.
func (e *chanError) Timeout() bool { return e.timeout }

func (e *chanError) Is(target error) bool {
	for _, t := range e.is {
		if t == target {
			return true
		}
	}
	return false
}

// Errors, in Rust's terms, each matched with errors.Is.
var (
	// ErrDisconnected: every sender is gone and the queue is drained
	// (receiving), or the receiver is gone or closed (sending).
	ErrDisconnected error = &chanError{msg: "mpsc: channel disconnected"}
	// ErrEmpty: TryRecv found no message, but a sender is left.
	ErrEmpty error = &chanError{msg: "mpsc: channel empty"}
	// ErrFull: TrySend found no room (rendezvous: no receiver waiting).
	ErrFull error = &chanError{msg: "mpsc: channel full"}
	// ErrTimeout: a deadline passed (SetDeadline, RecvTimeout,
	// SendTimeout).  os.IsTimeout(ErrTimeout) is true, and it matches
	// os.ErrDeadlineExceeded.
	ErrTimeout error = &chanError{msg: "mpsc: timed out", timeout: true,
		is: []error{os.ErrDeadlineExceeded}}
	// ErrClosed: the handle was closed, by this call's Close or before.
	// It matches os.ErrClosed.
	ErrClosed error = &chanError{msg: "mpsc: use of closed handle",
		is: []error{os.ErrClosed}}
	// ErrEmptyMessage: a message must carry at least one byte.
	ErrEmptyMessage error = &chanError{msg: "mpsc: empty message"}
	// ErrMessageTooLarge: the message is longer than the channel's
	// MaxMsgSize, or (RecvInto) longer than the buffer.  It matches
	// syscall.EMSGSIZE.
	ErrMessageTooLarge error = &chanError{msg: "mpsc: message too large",
		is: []error{syscall.EMSGSIZE}}
)

// ioctl issues a request with an argument struct; a signal that
// interrupts a wait restarts it (a timed wait keeps its deadline: the
// kernel rewrites the struct).
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

func peek(fd int) (int, error) {
	var a peekArgs
	_, err := ioctl(fd, iocPeekLen, unsafe.Pointer(&a))
	return int(a.Len), err
}

func getInfo(fd int) (Info, error) {
	var info Info
	_, err := ioctl(fd, iocInfo, unsafe.Pointer(&info))
	return info, err
}

// handle is one fd of a channel, non-blocking and registered with the
// netpoller through os.File.  Close is safe against fd reuse: os.File
// closes the fd only once no call is using it, and never twice.
type handle struct {
	f      *os.File
	rc     syscall.RawConn
	fd     int
	id     uint64
	max    int
	closed atomic.Bool

	mu       sync.Mutex // guards the deadlines below
	rdl, wdl time.Time  // the user's deadlines
	rforced  int        // calls whose context ended, waking reads now
	wforced  int        // the same, for writes
}

func newHandle(fd int) (*handle, error) {
	info, err := getInfo(fd)
	if err == syscall.ENOTTY || err == syscall.EINVAL {
		return nil, errors.New("mpsc: fd is not an mpsc handle")
	}
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	// NewFile sees O_NONBLOCK and registers the fd with the netpoller;
	// its finalizer closes the fd of a handle that is never closed.
	f := os.NewFile(uintptr(fd), Device)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &handle{f: f, rc: rc, fd: fd, id: info.ID,
		max: int(info.MaxMsgSize)}, nil
}

func (h *handle) close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	return h.f.Close()
}

// control runs fn on the fd, which stays open meanwhile.
func (h *handle) control(fn func(fd int)) error {
	if h.closed.Load() {
		return ErrClosed
	}
	if err := h.rc.Control(func(fd uintptr) { fn(int(fd)) }); err != nil {
		return h.mapErr(err)
	}
	return nil
}

func (h *handle) info() (Info, error) {
	var info Info
	var ierr error
	if err := h.control(func(fd int) { info, ierr = getInfo(fd) }); err != nil {
		return info, err
	}
	return info, ierr
}

func (h *handle) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case h.closed.Load():
		return ErrClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrTimeout
	}
	return err
}

var longAgo = time.Unix(1, 0)

// applyDeadline gives the netpoller the user's deadline, or one long
// past while a call's context has ended.  h.mu is held.
func (h *handle) applyDeadline(read bool) {
	if read {
		t := h.rdl
		if h.rforced > 0 {
			t = longAgo
		}
		h.f.SetReadDeadline(t)
	} else {
		t := h.wdl
		if h.wforced > 0 {
			t = longAgo
		}
		h.f.SetWriteDeadline(t)
	}
}

func (h *handle) setDeadline(read bool, t time.Time) error {
	if h.closed.Load() {
		return ErrClosed
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if read {
		h.rdl = t
	} else {
		h.wdl = t
	}
	h.applyDeadline(read)
	return nil
}

func (h *handle) force(read bool, delta int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if read {
		h.rforced += delta
	} else {
		h.wforced += delta
	}
	h.applyDeadline(read)
}

// deadline returns the user's deadline and whether it has passed.
func (h *handle) deadline(read bool) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.wdl
	if read {
		t = h.rdl
	}
	return t, !t.IsZero() && !time.Now().Before(t)
}

// wait runs op, a call that waits on the netpoller (rc.Read or rc.Write),
// so that the end of ctx wakes it: a deadline long past is set meanwhile.
// A call woken that way by another call's context goes back to waiting.
func (h *handle) wait(ctx context.Context, read bool, op func() error) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	for {
		var fired chan bool
		var stop chan struct{}
		if ctx != nil && ctx.Done() != nil {
			fired = make(chan bool, 1)
			stop = make(chan struct{})
			go func() {
				select {
				case <-ctx.Done():
					h.force(read, 1)
					fired <- true
				case <-stop:
					fired <- false
				}
			}()
		}
		err := op()
		ours := false
		if fired != nil {
			close(stop)
			if ours = <-fired; ours {
				h.force(read, -1)
			}
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) ||
			h.closed.Load() {
			return h.mapErr(err)
		}
		if ours {
			return ctx.Err()
		}
		if _, passed := h.deadline(read); passed {
			return ErrTimeout
		}
		// Woken for another call's context: wait for it to put the
		// deadline back, then wait again.
		time.Sleep(time.Millisecond)
	}
}

func clone(fd int) (int, error) {
	args := cloneArgs{Flags: syscall.O_CLOEXEC | syscall.O_NONBLOCK, Fd: -1}
	nfd, err := ioctl(fd, iocCloneSender, unsafe.Pointer(&args))
	if err == syscall.EPIPE {
		return -1, ErrDisconnected
	}
	return nfd, err
}

func open(capacity *uint64) (*Sender, *Receiver, error) {
	rx, err := syscall.Open(Device,
		syscall.O_RDWR|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
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
	r, err := newHandle(rx)
	if err != nil {
		syscall.Close(tx)
		return fail(err)
	}
	s, err := newHandle(tx)
	if err != nil {
		syscall.Close(tx)
		r.close()
		return nil, nil, err
	}
	return &Sender{h: s}, &Receiver{h: r}, nil
}

// Channel creates an unbounded channel (bounded by bytes only), Rust's
// mpsc::channel().
func Channel() (*Sender, *Receiver, error) {
	return open(nil)
}

// SyncChannel creates a channel of at most capacity queued messages, Go's
// make(chan T, capacity).  A capacity of 0 is a rendezvous channel: Send
// returns once a receiver has taken the message.
//
// On a rendezvous channel a sender and a receiver meet only when one of
// them sleeps in the kernel: readiness (epoll) says a sender may write
// only when a reader sleeps in read(), and a Go Recv waits on the
// netpoller, never in read().  So a Send that has to wait on a rendezvous
// channel falls back to a blocking system call: it occupies an OS thread
// (not a P) until a receiver takes the message.  It still honours Close,
// deadlines and contexts, by waiting in slices of at most 50 ms.  A Go
// receiver therefore meets Go, C (mpsc_send) and Python (send) senders,
// but not a sender that itself waits for readiness (an event loop, Python's
// send_async, TrySend in a loop).
func SyncChannel(capacity uint64) (*Sender, *Receiver, error) {
	return open(&capacity)
}

// Sender sends messages; Clone makes more, Close drops one.  Its methods
// may be called from many goroutines at once.
type Sender struct {
	h *handle
}

// SenderFromFd wraps a sender fd inherited or received from elsewhere
// (over SCM_RIGHTS, say), taking ownership of it.  The fd is switched to
// non-blocking mode, which is shared with every duplicate of it (dup,
// fork); libmpsc and the other bindings do not mind.  The fd must be an
// mpsc handle.
func SenderFromFd(fd int) (*Sender, error) {
	h, err := newHandle(fd)
	if err != nil {
		return nil, err
	}
	return &Sender{h: h}, nil
}

// Fd returns the sender's file descriptor, valid until Close.  It is
// non-blocking; do not close it.
func (s *Sender) Fd() int { return s.h.fd }

// Info returns a snapshot of the channel.
func (s *Sender) Info() (Info, error) { return s.h.info() }

// Clone returns one more sender of the same channel, with its own fd.
func (s *Sender) Clone() (*Sender, error) {
	var nfd int
	var cerr error
	if err := s.h.control(func(fd int) { nfd, cerr = clone(fd) }); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	h, err := newHandle(nfd)
	if err != nil {
		syscall.Close(nfd)
		return nil, err
	}
	return &Sender{h: h}, nil
}

// Close drops this sender, like closing a Go channel from its sending
// side: once every sender is closed the receiver sees ErrDisconnected.  A
// Send waiting on this sender returns ErrClosed.  Closing again returns
// ErrClosed and touches no fd.
func (s *Sender) Close() error { return s.h.close() }

// SetDeadline sets the time after which a waiting Send fails with
// ErrTimeout (os.IsTimeout); the zero time means none.  It applies to
// calls already waiting too, as net.Conn's SetWriteDeadline does.
func (s *Sender) SetDeadline(t time.Time) error { return s.h.setDeadline(false, t) }

func sendErr(err error) error {
	switch err {
	case nil:
		return nil
	case syscall.EPIPE:
		return ErrDisconnected
	case syscall.EAGAIN:
		return ErrFull
	case syscall.ETIMEDOUT:
		return ErrTimeout
	case syscall.EMSGSIZE:
		return ErrMessageTooLarge
	}
	return err
}

func (s *Sender) check(msg []byte) error {
	if len(msg) == 0 {
		return ErrEmptyMessage
	}
	if len(msg) > s.h.max {
		return ErrMessageTooLarge
	}
	return nil
}

// Send sends msg, waiting for room on a full channel (on a rendezvous
// channel: until a receiver takes it).  ErrDisconnected when the receiver
// is gone or closed, ErrClosed after Close, ErrTimeout after the deadline.
func (s *Sender) Send(msg []byte) error {
	return s.send(nil, msg)
}

// SendContext is Send that gives up when ctx ends, returning ctx.Err().
// The message is then not sent.
func (s *Sender) SendContext(ctx context.Context, msg []byte) error {
	return s.send(ctx, msg)
}

func (s *Sender) send(ctx context.Context, msg []byte) error {
	if err := s.check(msg); err != nil {
		return err
	}
	return s.sendMsg(ctx, msg, nil)
}

// sendMsg sends msg, or with rec not nil the batch record of msg with its
// handles (see SendWithSenders).
func (s *Sender) sendMsg(ctx context.Context, msg, rec []byte) error {
	var serr error
	rendezvous := false
	err := s.h.wait(ctx, false, func() error {
		return s.h.rc.Write(func(fd uintptr) bool {
			if rec != nil {
				serr = sendRec(int(fd), rec, 0)
			} else {
				_, serr = syscall.Write(int(fd), msg)
			}
			if serr != syscall.EAGAIN {
				return true
			}
			// Full.  On a rendezvous channel readiness comes only
			// from a reader asleep in read(): sleep in the kernel.
			if info, err := getInfo(int(fd)); err == nil && info.Capacity == 0 {
				rendezvous = true
				return true
			}
			return false
		})
	})
	if err != nil {
		return err
	}
	if rendezvous {
		return s.sendBlocking(ctx, msg, rec)
	}
	return sendErr(serr)
}

// rendezvousSlice bounds one blocking wait of a rendezvous Send, so that
// Close, deadlines and contexts are noticed.
const rendezvousSlice = 50 * time.Millisecond

func (s *Sender) sendBlocking(ctx context.Context, msg, rec []byte) error {
	for {
		slice := rendezvousSlice
		if dl, passed := s.h.deadline(false); passed {
			return ErrTimeout
		} else if !dl.IsZero() && time.Until(dl) < slice {
			slice = time.Until(dl)
		}
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < slice {
				slice = time.Until(dl)
			}
		}
		if slice < time.Microsecond {
			slice = time.Microsecond
		}
		var serr error
		err := s.h.rc.Write(func(fd uintptr) bool {
			if rec != nil {
				serr = sendRec(int(fd), rec, uint64(slice))
				return true
			}
			x := xfer{Buf: uint64(uintptr(unsafe.Pointer(&msg[0]))),
				Len: uint64(len(msg)), TimeoutNs: uint64(slice)}
			_, serr = ioctl(int(fd), iocSend, unsafe.Pointer(&x))
			runtime.KeepAlive(msg)
			return true
		})
		if err != nil {
			return s.h.mapErr(err)
		}
		// Not taken in this slice: the offer was withdrawn whole.
		if serr == syscall.ETIMEDOUT || serr == syscall.EAGAIN {
			continue
		}
		return sendErr(serr)
	}
}

// TrySend sends msg without waiting: ErrFull when there is no room (on a
// rendezvous channel: unless a receiver sleeps in the kernel's read()).
func (s *Sender) TrySend(msg []byte) error {
	if err := s.check(msg); err != nil {
		return err
	}
	var serr error
	if err := s.h.control(func(fd int) { _, serr = syscall.Write(fd, msg) }); err != nil {
		return err
	}
	return sendErr(serr)
}

// SendTimeout sends msg, waiting at most d for room: ErrTimeout then.
func (s *Sender) SendTimeout(msg []byte, d time.Duration) error {
	if d <= 0 {
		if err := s.TrySend(msg); err != ErrFull {
			return err
		}
		return ErrTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := s.send(ctx, msg)
	if err == context.DeadlineExceeded {
		err = ErrTimeout
	}
	return err
}

// Receiver receives the messages of one channel.  Its methods may be
// called from many goroutines, which then take turns.
type Receiver struct {
	h *handle

	mu      sync.Mutex // guards the two below
	pending [][]byte   // messages Chan took but did not deliver
	br      *bridge    // the running Chan bridge, if any
}

// ReceiverFromFd wraps a receiver fd inherited or received from
// elsewhere, taking ownership of it; see SenderFromFd.
func ReceiverFromFd(fd int) (*Receiver, error) {
	info, err := getInfo(fd)
	if err == nil && info.State&StateReceiver == 0 {
		return nil, errors.New("mpsc: fd is not a receiver")
	}
	h, err := newHandle(fd)
	if err != nil {
		return nil, err
	}
	return &Receiver{h: h}, nil
}

// Fd returns the receiver's file descriptor, valid until Close.  It is
// non-blocking; do not close it.
func (r *Receiver) Fd() int { return r.h.fd }

// Close releases the receiver: senders then see ErrDisconnected, and a
// Recv waiting on it returns ErrClosed, as does a Chan bridge.  Closing
// again returns ErrClosed and touches no fd.
func (r *Receiver) Close() error {
	r.mu.Lock()
	if r.br != nil {
		r.br.cancel()
	}
	r.mu.Unlock()
	return r.h.close()
}

// SetDeadline sets the time after which a waiting Recv fails with
// ErrTimeout (os.IsTimeout); the zero time means none.  It applies to
// calls already waiting too.
func (r *Receiver) SetDeadline(t time.Time) error { return r.h.setDeadline(true, t) }

// Info returns a snapshot of the channel.
func (r *Receiver) Info() (Info, error) { return r.h.info() }

// SetCapacity bounds the queue to capacity messages (0: rendezvous,
// CapacityUnbounded: no count limit).
func (r *Receiver) SetCapacity(capacity uint64) error {
	var cerr error
	err := r.h.control(func(fd int) {
		args := capacityArgs{Capacity: capacity}
		_, cerr = ioctl(fd, iocSetCapacity, unsafe.Pointer(&args))
	})
	if err != nil {
		return err
	}
	return cerr
}

// Shutdown refuses new messages and keeps the queued ones (tokio's
// Receiver::close); Recv drains them, then reports ErrDisconnected.
func (r *Receiver) Shutdown() error {
	var cerr error
	if err := r.h.control(func(fd int) { _, cerr = ioctl(fd, iocClose, nil) }); err != nil {
		return err
	}
	return cerr
}

func (r *Receiver) unread(msg []byte) {
	r.mu.Lock()
	r.pending = append([][]byte{msg}, r.pending...)
	r.mu.Unlock()
}

func (r *Receiver) takePending() ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 {
		return nil, false
	}
	msg := r.pending[0]
	r.pending = r.pending[1:]
	return msg, true
}

// take receives one message without waiting, into buf if it is not nil
// (n is then its length, or the length needed with ErrMessageTooLarge),
// or into a new slice of exactly its length.  It reports false, with no
// error, when the channel is empty.
func take(fd int, buf []byte) (msg []byte, n int, ok bool, err error) {
	for {
		if buf != nil {
			n, err = syscall.Read(fd, buf)
			switch err {
			case nil:
			case syscall.EAGAIN:
				return nil, 0, false, nil
			case syscall.EMSGSIZE:
				n, _ = peek(fd)
				return nil, n, true, ErrMessageTooLarge
			default:
				return nil, 0, true, err
			}
			if n == 0 {
				return nil, 0, true, ErrDisconnected
			}
			return buf[:n], n, true, nil
		}
		l, err := peek(fd)
		if err == syscall.EAGAIN {
			return nil, 0, false, nil
		}
		if err != nil {
			return nil, 0, true, err
		}
		if l == 0 {
			return nil, 0, true, ErrDisconnected
		}
		b := make([]byte, l)
		n, err = syscall.Read(fd, b)
		if err == syscall.EAGAIN || err == syscall.EMSGSIZE {
			continue // another goroutine took the message peeked at
		}
		if err != nil {
			return nil, 0, true, err
		}
		if n == 0 {
			return nil, 0, true, ErrDisconnected
		}
		return b[:n], n, true, nil
	}
}

// recv waits (unless try) for one message; see take.
func (r *Receiver) recv(ctx context.Context, buf []byte, try bool) ([]byte, int, error) {
	if msg, ok := r.takePending(); ok {
		if buf == nil {
			return msg, len(msg), nil
		}
		if len(msg) > len(buf) {
			r.unread(msg)
			return nil, len(msg), ErrMessageTooLarge
		}
		return buf[:copy(buf, msg)], len(msg), nil
	}
	var msg []byte
	var n int
	var rerr error
	if try {
		var ok bool
		err := r.h.control(func(fd int) { msg, n, ok, rerr = take(fd, buf) })
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			return nil, 0, ErrEmpty
		}
		return msg, n, rerr
	}
	err := r.h.wait(ctx, true, func() error {
		return r.h.rc.Read(func(fd uintptr) bool {
			var ok bool
			msg, n, ok, rerr = take(int(fd), buf)
			return ok
		})
	})
	if err != nil {
		return nil, 0, err
	}
	return msg, n, rerr
}

// Recv waits for a message; ErrDisconnected once every sender is gone
// and the queue is drained, ErrClosed after Close, ErrTimeout after the
// deadline.  The message is a new slice of exactly its length.  A Chan
// bridge still running is stopped first, and the message it held is
// the one returned.
func (r *Receiver) Recv() ([]byte, error) {
	r.StopChan()
	msg, _, err := r.recv(nil, nil, false)
	return msg, err
}

// RecvContext is Recv that gives up when ctx ends, returning ctx.Err();
// no message is consumed then.
func (r *Receiver) RecvContext(ctx context.Context) ([]byte, error) {
	r.StopChan()
	msg, _, err := r.recv(ctx, nil, false)
	return msg, err
}

// RecvInto waits for a message and copies it into buf, for loops that
// reuse one buffer: it returns the message's length.  A message longer
// than buf stays queued, and RecvInto returns its length with
// ErrMessageTooLarge.  A buffer of Info().MaxMsgSize bytes always fits.
func (r *Receiver) RecvInto(buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, ErrMessageTooLarge
	}
	r.StopChan()
	_, n, err := r.recv(nil, buf, false)
	return n, err
}

// TryRecv returns a queued message without waiting: ErrEmpty when there
// is none, ErrDisconnected at the end.
func (r *Receiver) TryRecv() ([]byte, error) {
	r.StopChan()
	msg, _, err := r.recv(nil, nil, true)
	return msg, err
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
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := r.RecvContext(ctx)
	if err == context.DeadlineExceeded {
		err = ErrTimeout
	}
	return m, err
}
