// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package mpsc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestMain runs the request/response server when the test binary is
// started again as a child (TestRequestResponseAcrossProcesses).
func TestMain(m *testing.M) {
	if os.Getenv("MPSC_TEST_SERVER") == "1" {
		rx, err := ReceiverFromFd(3)
		if err != nil {
			os.Exit(2)
		}
		serve(NewTypedReceiver(rx, String()))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serve answers each request on the sender inside it, and drops the
// sender of a "drop" request unanswered.
func serve(requests *TypedReceiver[string]) {
	for {
		text, senders, err := requests.RecvWithSenders()
		if err != nil {
			return
		}
		for _, s := range senders {
			if text != "drop" {
				s.Send([]byte("served " + text))
			}
			s.Close()
		}
	}
}

func request(t *testing.T, addr *TypedSender[string], text string) (string, error) {
	t.Helper()
	tx, rx, err := SyncChannel(1)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := addr.SendWithSenders(text, tx); err != nil {
		t.Fatal(err)
	}
	tx.Close()
	msg, err := rx.RecvTimeout(30 * time.Second)
	return string(msg), err
}

func queuedHandles(t *testing.T, r *Receiver) uint64 {
	t.Helper()
	info, err := r.Info()
	if err != nil {
		t.Fatal(err)
	}
	return info.QueuedHandles
}

func TestSenderTravels(t *testing.T) {
	need(t)
	addr, requests, _ := Channel()
	defer requests.Close()
	defer addr.Close()
	replyTx, replyRx, _ := Channel()
	defer replyRx.Close()
	if err := addr.SendWithSenders([]byte("hello"), replyTx); err != nil {
		t.Fatal(err)
	}
	if n := queuedHandles(t, requests); n != 1 {
		t.Fatalf("queued handles %d", n)
	}
	replyTx.Close() // the one in flight keeps the channel connected
	if _, err := replyRx.TryRecv(); err != ErrEmpty {
		t.Fatalf("TryRecv: %v", err)
	}
	msg, senders, err := requests.RecvWithSenders()
	if err != nil || string(msg) != "hello" || len(senders) != 1 {
		t.Fatalf("%q %v %v", msg, senders, err)
	}
	if n := queuedHandles(t, requests); n != 0 {
		t.Fatalf("queued handles %d", n)
	}
	flags, err := fcntl(senders[0].Fd(), syscall.F_GETFD)
	if err != nil || flags&syscall.FD_CLOEXEC == 0 {
		t.Fatalf("installed fd not close-on-exec: %#x %v", flags, err)
	}
	if err := senders[0].Send([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if msg, err := replyRx.Recv(); err != nil || string(msg) != "reply" {
		t.Fatalf("%q %v", msg, err)
	}
	senders[0].Close()
	if _, err := replyRx.Recv(); err != ErrDisconnected {
		t.Fatalf("after the last sender: %v", err)
	}
}

func fcntl(fd, cmd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func TestWithoutSendersAndPlainRecv(t *testing.T) {
	need(t)
	addr, requests, _ := Channel()
	defer requests.Close()
	defer addr.Close()
	// No handles: RecvWithSenders returns none.
	addr.Send([]byte("plain"))
	msg, senders, err := requests.TryRecvWithSenders()
	if err != nil || string(msg) != "plain" || senders != nil {
		t.Fatalf("%q %v %v", msg, senders, err)
	}
	if _, _, err := requests.TryRecvWithSenders(); err != ErrEmpty {
		t.Fatalf("empty: %v", err)
	}
	// Recv drops a message's handles: their channel disconnects.
	tx, rx, _ := Channel()
	defer rx.Close()
	addr.SendWithSenders([]byte("dropped"), tx)
	tx.Close()
	if msg, err := requests.Recv(); err != nil || string(msg) != "dropped" {
		t.Fatalf("%q %v", msg, err)
	}
	if _, err := rx.RecvTimeout(10 * time.Second); err != ErrDisconnected {
		t.Fatalf("dropped handle: %v", err)
	}
}

func TestReplyDisconnectsWhenServerDrops(t *testing.T) {
	need(t)
	addr, requests, _ := TypedChannel(String())
	defer addr.Close()
	go serve(requests)
	if got, err := request(t, addr, "one"); err != nil || got != "served one" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := request(t, addr, "drop"); err != ErrDisconnected {
		t.Fatalf("dropped request: %v", err)
	}
	requests.Close()
}

func TestOwnSenderInOwnQueue(t *testing.T) {
	need(t)
	tx, rx, _ := Channel()
	defer rx.Close()
	if err := tx.SendWithSenders([]byte("me"), tx); err != nil {
		t.Fatal(err)
	}
	tx.Close()
	_, senders, err := rx.RecvWithSenders()
	if err != nil || len(senders) != 1 {
		t.Fatalf("%v %v", senders, err)
	}
	senders[0].Send([]byte("via myself"))
	if msg, err := rx.Recv(); err != nil || string(msg) != "via myself" {
		t.Fatalf("%q %v", msg, err)
	}
	senders[0].Close()
	if _, err := rx.Recv(); err != ErrDisconnected {
		t.Fatalf("%v", err)
	}
}

func TestRefusedHandles(t *testing.T) {
	need(t)
	addr, requests, _ := Channel()
	defer requests.Close()
	defer addr.Close()
	nothingSent := func() {
		t.Helper()
		if _, err := requests.TryRecv(); err != ErrEmpty {
			t.Fatalf("something was sent: %v", err)
		}
	}

	// A pipe, smuggled in as a Sender (SenderFromFd refuses it).
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	f := os.NewFile(uintptr(p[1]), "pipe")
	defer f.Close()
	rc, _ := f.SyscallConn()
	pipe := &Sender{h: &handle{f: f, rc: rc, fd: p[1]}}
	for _, send := range []func() error{
		func() error { return addr.SendWithSenders([]byte("x"), pipe) },
		func() error { return addr.TrySendWithSenders([]byte("x"), pipe) },
	} {
		err := send()
		if !errors.Is(err, ErrHandleRefused) || !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("pipe: %v", err)
		}
	}
	nothingSent()

	// A receiver's fd whose sender role is dropped.
	tx, rx, _ := Channel()
	defer tx.Close()
	defer rx.Close()
	dup, _ := syscall.Dup(rx.Fd())
	noRole, err := SenderFromFd(dup)
	if err != nil {
		t.Fatal(err)
	}
	defer noRole.Close()
	if err := addr.SendWithSenders([]byte("x"), noRole); !errors.Is(err, ErrHandleRefused) {
		t.Fatalf("no sender role: %v", err)
	}
	nothingSent()

	// A closed sender, nil, and too many.
	closed, closedRx, _ := Channel()
	defer closedRx.Close()
	closed.Close()
	if err := addr.SendWithSenders([]byte("x"), closed); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
	if err := addr.SendWithSenders([]byte("x"), nil); !errors.Is(err, ErrHandleRefused) {
		t.Fatalf("nil: %v", err)
	}
	many := make([]*Sender, MaxHandles+1)
	for i := range many {
		many[i] = tx
	}
	if err := addr.SendWithSenders([]byte("x"), many...); !errors.Is(err, ErrHandleRefused) {
		t.Fatalf("too many: %v", err)
	}
	nothingSent()
	if err := addr.SendWithSenders([]byte("x"), many[:MaxHandles]...); err != nil {
		t.Fatalf("%d: %v", MaxHandles, err)
	}
	_, senders, err := requests.RecvWithSenders()
	if err != nil || len(senders) != MaxHandles {
		t.Fatalf("%d %v", len(senders), err)
	}
	for _, s := range senders {
		s.Close()
	}
}

func TestSendWithSendersFull(t *testing.T) {
	need(t)
	addr, requests, _ := SyncChannel(1)
	defer requests.Close()
	defer addr.Close()
	tx, rx, _ := Channel()
	defer rx.Close()
	defer tx.Close()
	if err := addr.TrySendWithSenders([]byte("1"), tx); err != nil {
		t.Fatal(err)
	}
	if err := addr.TrySendWithSenders([]byte("2"), tx); err != ErrFull {
		t.Fatalf("full: %v", err)
	}
	done := make(chan error)
	go func() { done <- addr.SendWithSenders([]byte("3"), tx) }()
	time.Sleep(50 * time.Millisecond)
	if _, s, err := requests.RecvWithSenders(); err != nil || len(s) != 1 {
		t.Fatalf("%v %v", s, err)
	} else {
		s[0].Close()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msg, s, err := requests.RecvWithSenders()
	if err != nil || string(msg) != "3" || len(s) != 1 {
		t.Fatalf("%q %v %v", msg, s, err)
	}
	s[0].Close()
}

func TestTypedSendersTravel(t *testing.T) {
	need(t)
	addr, requests, _ := TypedChannel(Gob[[]string]())
	defer requests.Close()
	defer addr.Close()
	replyTx, replyRx, _ := TypedChannel(String())
	defer replyRx.Close()
	if err := addr.SendWithSenders([]string{"a", "b"}, replyTx.Sender()); err != nil {
		t.Fatal(err)
	}
	replyTx.Close()
	v, senders, err := requests.RecvWithSenders()
	if err != nil || len(v) != 2 || len(senders) != 1 {
		t.Fatalf("%v %v %v", v, senders, err)
	}
	reply := NewTypedSender(senders[0], String())
	reply.Send(v[0] + v[1])
	reply.Close()
	if got, err := replyRx.Recv(); err != nil || got != "ab" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := replyRx.Recv(); err != ErrDisconnected {
		t.Fatalf("%v", err)
	}
}

// The server runs in a process of its own (this binary, started again),
// which inherits the requests receiver as fd 3; each reply channel
// travels inside its request.
func TestRequestResponseAcrossProcesses(t *testing.T) {
	need(t)
	addr, requests, err := TypedChannel(String())
	if err != nil {
		t.Fatal(err)
	}
	defer addr.Close()
	fd, err := syscall.Dup(requests.Receiver().Fd())
	if err != nil {
		t.Fatal(err)
	}
	inherited := os.NewFile(uintptr(fd), "requests")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "MPSC_TEST_SERVER=1")
	cmd.ExtraFiles = []*os.File{inherited}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inherited.Close()
	requests.Close()
	for _, text := range []string{"one", "two"} {
		if got, err := request(t, addr, text); err != nil || got != "served "+text {
			t.Fatalf("%q %v", got, err)
		}
	}
	if _, err := request(t, addr, "drop"); err != ErrDisconnected {
		t.Fatalf("dropped request: %v", err)
	}
	addr.Close() // the server's loop ends
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server: %v", err)
	}
}

// The record layout and flags agree with uapi/linux/mpsc.h.
func TestHandleABIMatchesHeader(t *testing.T) {
	dir := t.TempDir()
	src := dir + "/probe.c"
	prog := `#include <stdio.h>
#include <linux/mpsc.h>
int main(void) {
	printf("%u %u %u %u %zu %llu %llu %llu\n", MPSC_XFER_BATCH,
	       MPSC_XFER_HANDLES, MPSC_XFER_CLOEXEC, MPSC_MAX_HANDLES,
	       sizeof(struct mpsc_rec), (unsigned long long)MPSC_REC_SIZE(1, 0),
	       (unsigned long long)MPSC_REC_SIZE(9, 3),
	       (unsigned long long)MPSC_REC_SIZE(100, 16));
	return 0;
}`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := dir + "/probe"
	if out, err := exec.Command("cc", "-I", "../../uapi", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d %d %d %d %d %d %d %d\n", xferBatch, xferHandles,
		xferCloexec, MaxHandles, recHeader, recSize(1, 0), recSize(9, 3),
		recSize(100, 16))
	if string(out) != want {
		t.Fatalf("header %q, Go %q", out, want)
	}
}
