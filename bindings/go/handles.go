// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package mpsc

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// Senders inside messages: a message may carry sender handles, each a new
// sender role of its channel while the message is in flight, installed as
// a new fd of the receiving process when it is received.  The kernel's
// batch records (MPSC_XFER_BATCH) carry them: a struct mpsc_rec header,
// the fds padded to 8 bytes, the payload padded to 8 bytes.

// MaxHandles is the number of senders one message may carry.
const MaxHandles = 16

const (
	xferBatch   = 1 << 1 // buf holds packed struct mpsc_rec
	xferHandles = 1 << 2 // receive: install sender handles
	xferCloexec = 1 << 3 // receive: installed fds get FD_CLOEXEC
	recHeader   = 8      // sizeof(struct mpsc_rec)
)

// ErrHandleRefused: a handle attached to a message is not an mpsc sender
// (a pipe, a socket, a receiver without a sender role) or is not open.
// Nothing was sent.  It matches syscall.EINVAL.
var ErrHandleRefused error = &chanError{
	msg: "mpsc: only mpsc senders can travel in a message",
	is:  []error{syscall.EINVAL}}

func recAlign(n int) int { return (n + 7) &^ 7 }

// recSize is MPSC_REC_SIZE(): a record's header, fds and payload.
func recSize(length, nfds int) int {
	return recHeader + recAlign(4*nfds) + recAlign(length)
}

// packRec builds one batch record of msg carrying fds.
func packRec(msg []byte, fds []int) []byte {
	rec := make([]byte, recSize(len(msg), len(fds)))
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(msg)))
	binary.LittleEndian.PutUint16(rec[4:], uint16(len(fds)))
	for i, fd := range fds {
		binary.LittleEndian.PutUint32(rec[recHeader+4*i:], uint32(int32(fd)))
	}
	copy(rec[recHeader+recAlign(4*len(fds)):], msg)
	return rec
}

// withFds runs fn with the fds of handles, each kept open meanwhile (as
// os.File keeps a fd open while a call uses it), so that a concurrent
// Close of a handle cannot make its number name another file.
func withFds(handles []*Sender, fn func(fds []int) error) error {
	fds := make([]int, 0, len(handles))
	var hold func(i int) error
	hold = func(i int) error {
		if i == len(handles) {
			return fn(fds)
		}
		if handles[i] == nil {
			return fmt.Errorf("%w: sender %d is nil", ErrHandleRefused, i)
		}
		var ferr error
		err := handles[i].h.control(func(fd int) {
			fds = append(fds, fd)
			ferr = hold(i + 1)
		})
		if err != nil {
			return fmt.Errorf("mpsc: sender %d to attach: %w", i, err)
		}
		return ferr
	}
	return hold(0)
}

// refused says which of fds the kernel refused to attach, or nil.
func refused(fds []int) error {
	for i, fd := range fds {
		info, err := getInfo(fd)
		if err != nil {
			return fmt.Errorf("%w: handle %d (fd %d): %v", ErrHandleRefused, i, fd, err)
		}
		if info.State&StateSender == 0 {
			return fmt.Errorf("%w: handle %d (fd %d) holds no sender role",
				ErrHandleRefused, i, fd)
		}
	}
	return nil
}

// SendWithSenders sends msg carrying the senders handles (at most
// MaxHandles), as Send does.  Each travels as a new sender role of its
// channel, which stays connected while the message is in flight; the
// receiver gets working senders from RecvWithSenders.  The handles here
// stay open and the caller's: close them to leave only the ones in
// flight (a request's reply channel then disconnects when the server
// drops the sender unanswered).  A handle that is not an mpsc sender
// fails with ErrHandleRefused, and nothing is sent.
func (s *Sender) SendWithSenders(msg []byte, handles ...*Sender) error {
	return s.sendWithSenders(nil, msg, handles, false)
}

// SendWithSendersContext is SendWithSenders that gives up when ctx ends.
func (s *Sender) SendWithSendersContext(ctx context.Context, msg []byte, handles ...*Sender) error {
	return s.sendWithSenders(ctx, msg, handles, false)
}

// TrySendWithSenders is SendWithSenders without waiting: ErrFull when
// there is no room.
func (s *Sender) TrySendWithSenders(msg []byte, handles ...*Sender) error {
	return s.sendWithSenders(nil, msg, handles, true)
}

func (s *Sender) sendWithSenders(ctx context.Context, msg []byte, handles []*Sender, try bool) error {
	if err := s.check(msg); err != nil {
		return err
	}
	if len(handles) > MaxHandles {
		return fmt.Errorf("%w: %d senders, at most %d per message",
			ErrHandleRefused, len(handles), MaxHandles)
	}
	return withFds(handles, func(fds []int) error {
		rec := packRec(msg, fds)
		var err error
		if try {
			var serr error
			err = s.h.control(func(fd int) { serr = sendRec(fd, rec, 0) })
			if err == nil {
				err = sendErr(serr)
			}
		} else {
			err = s.sendMsg(ctx, msg, rec)
		}
		if len(fds) > 0 && (err == syscall.EINVAL || err == syscall.EBADF ||
			err == ErrDisconnected) {
			if r := refused(fds); r != nil {
				return r
			}
		}
		return err
	})
}

// sendRec sends one batch record, waiting at most timeout (0: not at all).
func sendRec(fd int, rec []byte, timeout uint64) error {
	x := xfer{Buf: uint64(uintptr(unsafe.Pointer(&rec[0]))),
		Len: uint64(len(rec)), TimeoutNs: timeout, Flags: xferBatch, Count: 1}
	_, err := ioctl(fd, iocSend, unsafe.Pointer(&x))
	runtime.KeepAlive(rec)
	return err
}

// takeRec receives one message and its handles without waiting: false
// when the channel is empty.  The handles are installed as close-on-exec
// fds, all or none.
func takeRec(fd int) (msg []byte, fds []int, ok bool, err error) {
	for {
		l, err := peek(fd)
		if err == syscall.EAGAIN {
			return nil, nil, false, nil
		}
		if err != nil {
			return nil, nil, true, err
		}
		if l == 0 {
			return nil, nil, true, ErrDisconnected
		}
		buf := make([]byte, recSize(l, MaxHandles))
		x := xfer{Buf: uint64(uintptr(unsafe.Pointer(&buf[0]))),
			Len: uint64(len(buf)), Flags: xferBatch | xferHandles | xferCloexec,
			Count: 1}
		n, err := ioctl(fd, iocRecv, unsafe.Pointer(&x))
		runtime.KeepAlive(buf)
		if err == syscall.EAGAIN || err == syscall.EMSGSIZE {
			continue // another goroutine took the message peeked at
		}
		if err != nil {
			return nil, nil, true, err
		}
		if n == 0 {
			return nil, nil, true, ErrDisconnected
		}
		length := int(binary.LittleEndian.Uint32(buf[0:]))
		nfds := int(binary.LittleEndian.Uint16(buf[4:]))
		for i := 0; i < nfds; i++ {
			fds = append(fds, int(int32(binary.LittleEndian.Uint32(buf[recHeader+4*i:]))))
		}
		off := recHeader + recAlign(4*nfds)
		msg = make([]byte, length)
		copy(msg, buf[off:])
		return msg, fds, true, nil
	}
}

// wrapSenders makes Senders of installed fds; on failure every fd is
// closed.
func wrapSenders(fds []int) ([]*Sender, error) {
	senders := make([]*Sender, 0, len(fds))
	for i, fd := range fds {
		h, err := newHandle(fd)
		if err != nil {
			for _, s := range senders {
				s.Close()
			}
			for _, fd := range fds[i:] {
				syscall.Close(fd)
			}
			return nil, err
		}
		senders = append(senders, &Sender{h: h})
	}
	return senders, nil
}

// RecvWithSenders waits for a message, as Recv does, and returns the
// senders it carries, each a working Sender with a fd of its own (nil if
// it carried none).  Closing one drops that sender role.  If no fd is
// left for them (EMFILE), the message stays queued and the error says
// so.  Recv, TryRecv, RecvInto and Chan drop a message's senders (the
// kernel closes them), as a message a bridge already took has none.
func (r *Receiver) RecvWithSenders() ([]byte, []*Sender, error) {
	return r.recvWithSenders(nil, false)
}

// RecvWithSendersContext is RecvWithSenders that gives up when ctx ends.
func (r *Receiver) RecvWithSendersContext(ctx context.Context) ([]byte, []*Sender, error) {
	return r.recvWithSenders(ctx, false)
}

// TryRecvWithSenders is RecvWithSenders without waiting: ErrEmpty when
// no message is queued.
func (r *Receiver) TryRecvWithSenders() ([]byte, []*Sender, error) {
	return r.recvWithSenders(nil, true)
}

func (r *Receiver) recvWithSenders(ctx context.Context, try bool) ([]byte, []*Sender, error) {
	r.StopChan()
	if msg, ok := r.takePending(); ok {
		return msg, nil, nil
	}
	var msg []byte
	var fds []int
	var rerr error
	if try {
		var ok bool
		if err := r.h.control(func(fd int) { msg, fds, ok, rerr = takeRec(fd) }); err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, ErrEmpty
		}
	} else {
		err := r.h.wait(ctx, true, func() error {
			return r.h.rc.Read(func(fd uintptr) bool {
				var ok bool
				msg, fds, ok, rerr = takeRec(int(fd))
				return ok
			})
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if rerr != nil {
		return nil, nil, rerr
	}
	if len(fds) == 0 {
		return msg, nil, nil
	}
	senders, err := wrapSenders(fds)
	if err != nil {
		return nil, nil, err
	}
	return msg, senders, nil
}
