// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package mpsc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func channel(t *testing.T, capacity ...uint64) (*Sender, *Receiver) {
	t.Helper()
	need(t)
	var tx *Sender
	var rx *Receiver
	var err error
	if len(capacity) > 0 {
		tx, rx, err = SyncChannel(capacity[0])
	} else {
		tx, rx, err = Channel()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Close(); rx.Close() })
	return tx, rx
}

func threads(t *testing.T) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "Threads:") {
			n, _ := strconv.Atoi(strings.TrimSpace(line[8:]))
			return n
		}
	}
	t.Fatal("no Threads: line")
	return 0
}

// A blocked Recv parks a goroutine on the netpoller, not a thread, and
// Close wakes it with ErrClosed (which is also os.ErrClosed).
func TestCloseWakesBlockedRecvWithoutThreads(t *testing.T) {
	need(t)
	const n = 64
	before := threads(t)
	rxs := make([]*Receiver, n)
	errs := make(chan error, n)
	for i := range rxs {
		tx, rx := channel(t)
		_ = tx
		rxs[i] = rx
		go func() {
			_, err := rx.Recv()
			errs <- err
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if after := threads(t); after-before > n/4 {
		t.Errorf("%d blocked Recvs took %d threads", n, after-before)
	}
	for _, rx := range rxs {
		if err := rx.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for range rxs {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrClosed) || !errors.Is(err, os.ErrClosed) {
				t.Fatalf("got %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not wake Recv")
		}
	}
}

func TestCloseWakesBlockedSend(t *testing.T) {
	tx, _ := channel(t, 1)
	tx.Send([]byte("fills"))
	done := make(chan error)
	go func() { done <- tx.Send([]byte("waits")) }()
	time.Sleep(50 * time.Millisecond)
	tx.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake Send")
	}
}

// A second Close fails and leaves alone whatever now has the fd number.
func TestSecondCloseNeverClosesAReusedFd(t *testing.T) {
	need(t)
	tx, rx, _ := Channel()
	defer rx.Close()
	fd := tx.Fd()
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := tx.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := tx.Send([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if _, err := w.Write([]byte("still open")); err != nil {
		t.Fatalf("fd %d (reused by the pipe?) was closed: %v", fd, err)
	}
}

func TestFinalizerClosesLeakedHandle(t *testing.T) {
	tx, rx := channel(t)
	func() {
		c, err := tx.Clone()
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Fd()
	}()
	for i := 0; i < 50; i++ {
		runtime.GC()
		info, _ := rx.Info()
		if info.Senders == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the leaked clone's fd was never closed")
}

func TestDeadlinesAreTimeouts(t *testing.T) {
	tx, rx := channel(t, 1)
	rx.SetDeadline(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	_, err := rx.Recv()
	if !os.IsTimeout(err) || !errors.Is(err, ErrTimeout) ||
		!errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv: %v", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("returned after %v", d)
	}
	rx.SetDeadline(time.Time{})
	tx.Send([]byte("a"))
	if m, err := rx.Recv(); err != nil || string(m) != "a" {
		t.Fatal(m, err)
	}
	tx.Send([]byte("b"))
	tx.SetDeadline(time.Now().Add(30 * time.Millisecond))
	if err := tx.Send([]byte("c")); !os.IsTimeout(err) {
		t.Fatalf("Send: %v", err)
	}
	if err := tx.SendTimeout([]byte("c"), 10*time.Millisecond); !os.IsTimeout(err) {
		t.Fatalf("SendTimeout: %v", err)
	}
}

// A deadline set while a Recv waits applies to it, as with net.Conn.
func TestDeadlineReachesWaitingRecv(t *testing.T) {
	_, rx := channel(t)
	done := make(chan error)
	go func() { _, err := rx.Recv(); done <- err }()
	time.Sleep(50 * time.Millisecond)
	rx.SetDeadline(time.Now())
	if err := <-done; !os.IsTimeout(err) {
		t.Fatal(err)
	}
}

func TestRecvContextLosesNothing(t *testing.T) {
	tx, rx := channel(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	if _, err := rx.RecvContext(ctx); err != context.Canceled {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := rx.RecvContext(ctx); !os.IsTimeout(err) {
		t.Fatal(err)
	}
	tx.Send([]byte("after"))
	if m, err := rx.RecvContext(context.Background()); err != nil || string(m) != "after" {
		t.Fatal(m, err)
	}
}

func TestSendContextOnFullChannel(t *testing.T) {
	tx, rx := channel(t, 1)
	tx.Send([]byte("1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := tx.SendContext(ctx, []byte("2")); err != context.DeadlineExceeded {
		t.Fatal(err)
	}
	if info, _ := tx.Info(); info.QueuedMsgs != 1 || info.Capacity != 1 {
		t.Fatalf("%+v", info)
	}
	go func() { time.Sleep(30 * time.Millisecond); rx.Recv() }()
	if err := tx.SendContext(context.Background(), []byte("3")); err != nil {
		t.Fatal(err)
	}
}

// Capacity 0: a Go Send meets a Go Recv (the Send sleeps in the kernel),
// and still honours contexts, deadlines and Close.
func TestRendezvousGoToGo(t *testing.T) {
	tx, rx := channel(t, 0)
	got := make(chan string)
	go func() {
		for i := 0; i < 3; i++ {
			m, err := rx.Recv()
			if err != nil {
				t.Error(err)
			}
			got <- string(m)
		}
	}()
	for _, m := range []string{"a", "b", "c"} {
		if err := tx.Send([]byte(m)); err != nil {
			t.Fatal(err)
		}
		if g := <-got; g != m {
			t.Fatal(g)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := tx.SendContext(ctx, []byte("nobody")); err != context.DeadlineExceeded {
		t.Fatal(err)
	}
	if err := tx.SendTimeout([]byte("nobody"), 20*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- tx.Send([]byte("nobody")) }()
	time.Sleep(30 * time.Millisecond)
	tx.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if info, _ := rx.Info(); info.QueuedMsgs != 0 || info.Received != 3 {
		t.Fatalf("%+v", info)
	}
}

func TestRecvOwnsExactlyItsBytes(t *testing.T) {
	tx, rx := channel(t)
	tx.Send([]byte("abc"))
	m, err := rx.Recv()
	if err != nil || string(m) != "abc" || cap(m) != 3 {
		t.Fatalf("%q cap %d %v", m, cap(m), err)
	}
	tx.Send([]byte("de"))
	m, _ = rx.TryRecv()
	if cap(m) != 2 {
		t.Fatalf("TryRecv: cap %d", cap(m))
	}
}

// Keeping 1000 one-byte messages costs kilobytes, not 1000 buffers.
func TestKeptMessagesCostTheirSize(t *testing.T) {
	tx, rx := channel(t)
	for i := 0; i < 1000; i++ {
		tx.Send([]byte{byte(i)})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := make([][]byte, 0, 1000)
	for i := 0; i < 1000; i++ {
		m, err := rx.Recv()
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, m)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Fatalf("heap grew %d bytes", grew)
	}
	runtime.KeepAlive(kept)
}

func TestRecvIntoReusesTheBuffer(t *testing.T) {
	tx, rx := channel(t)
	tx.Send([]byte("hello"))
	tx.Send([]byte("hi"))
	small := make([]byte, 3)
	if n, err := rx.RecvInto(small); !errors.Is(err, ErrMessageTooLarge) || n != 5 {
		t.Fatal(n, err)
	}
	buf := make([]byte, 16)
	n, err := rx.RecvInto(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatal(n, err)
	}
	n, err = rx.RecvInto(buf)
	if err != nil || string(buf[:n]) != "hi" {
		t.Fatal(n, err)
	}
	// The loop allocates no message buffers: 100 messages of 4 KiB cost
	// far less than 400 KiB of heap.
	msg := make([]byte, 4096)
	big := make([]byte, 4096)
	for i := 0; i < 100; i++ {
		tx.Send(msg)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 100; i++ {
		if n, err := rx.RecvInto(big); err != nil || n != 4096 {
			t.Fatal(n, err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 100; per >= 1024 {
		t.Errorf("RecvInto allocates %d bytes per 4 KiB message", per)
	}
}

func TestOversizeSend(t *testing.T) {
	tx, rx := channel(t)
	info, _ := tx.Info()
	big := make([]byte, info.MaxMsgSize+1)
	for _, err := range []error{tx.Send(big), tx.TrySend(big),
		tx.SendTimeout(big, time.Millisecond)} {
		if !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, syscall.EMSGSIZE) {
			t.Fatal(err)
		}
	}
	if info, _ := rx.Info(); info.Sent != 0 {
		t.Fatal(info.Sent)
	}
}

// Stopping Chan, explicitly or by switching to Recv, loses no message.
func TestChanStopLosesNothing(t *testing.T) {
	tx, rx := channel(t)
	for i := 0; i < 4; i++ {
		tx.Send([]byte{'0' + byte(i)})
	}
	c := rx.Chan()
	if m := <-c; string(m) != "0" {
		t.Fatal(m)
	}
	time.Sleep(50 * time.Millisecond) // the bridge now holds "1"
	if err := rx.StopChan(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-c; ok {
		t.Fatal("channel open after StopChan")
	}
	if m, err := rx.Recv(); err != nil || string(m) != "1" {
		t.Fatal(m, err)
	}
	c = rx.Chan()
	if m := <-c; string(m) != "2" {
		t.Fatal(m)
	}
	time.Sleep(50 * time.Millisecond) // the bridge holds "3"
	if m, err := rx.TryRecv(); err != nil || string(m) != "3" {
		t.Fatal(m, err)
	}
}

func TestChanContextAndItsError(t *testing.T) {
	tx, rx := channel(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := rx.ChanContext(ctx)
	tx.Send([]byte("kept"))
	time.Sleep(50 * time.Millisecond)
	cancel()
	for range c {
		t.Fatal("a message after cancel")
	}
	if err := rx.StopChan(); err != context.Canceled {
		t.Fatal(err)
	}
	if m, err := rx.Recv(); err != nil || string(m) != "kept" {
		t.Fatal(m, err)
	}
	// Ended by the last sender: no error.
	c = rx.Chan()
	tx.Close()
	for range c {
	}
	if err := rx.StopChan(); err != nil {
		t.Fatal(err)
	}
}

func TestChanReportsClose(t *testing.T) {
	_, rx := channel(t)
	c := rx.Chan()
	time.AfterFunc(30*time.Millisecond, func() { rx.Close() })
	for range c {
	}
	if err := rx.StopChan(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}

func TestFromFd(t *testing.T) {
	tx, rx := channel(t)
	fd, _ := syscall.Dup(tx.Fd())
	s, err := SenderFromFd(fd)
	if err != nil {
		t.Fatal(err)
	}
	s.Send([]byte("dup"))
	s.Close()
	rfd, _ := syscall.Dup(rx.Fd())
	r, err := ReceiverFromFd(rfd)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if m, err := r.Recv(); err != nil || string(m) != "dup" {
		t.Fatal(m, err)
	}
	sfd, _ := syscall.Dup(tx.Fd())
	if _, err := ReceiverFromFd(sfd); err == nil {
		t.Fatal("a sender wrapped as a receiver")
	}
	syscall.Close(sfd)
	p, w, _ := os.Pipe()
	defer p.Close()
	defer w.Close()
	if _, err := SenderFromFd(int(p.Fd())); err == nil {
		t.Fatal("a pipe wrapped as a sender")
	}
}

func TestSenderInfo(t *testing.T) {
	tx, rx := channel(t, 3)
	si, err := tx.Info()
	if err != nil {
		t.Fatal(err)
	}
	ri, _ := rx.Info()
	if si.ID != ri.ID || si.Capacity != 3 || si.State&StateSender == 0 ||
		si.State&StateReceiver != 0 {
		t.Fatalf("%+v", si)
	}
}

type point struct{ X, Y int }

func TestTypedChannels(t *testing.T) {
	need(t)
	tx, rx, err := TypedChannel(Gob[point]())
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx.Send(point{1, 2})
	tx2, _ := tx.Clone()
	tx2.Send(point{3, 4})
	tx.Close()
	tx2.Close()
	var got []point
	for p := range rx.Chan() {
		got = append(got, p)
	}
	if len(got) != 2 || got[0] != (point{1, 2}) || got[1] != (point{3, 4}) {
		t.Fatal(got)
	}
	if err := rx.StopChan(); err != nil {
		t.Fatal(err)
	}

	stx, srx, _ := TypedSyncChannel(2, String())
	defer stx.Close()
	defer srx.Close()
	stx.TrySend("text")
	if s, err := srx.RecvTimeout(time.Second); err != nil || s != "text" {
		t.Fatal(s, err)
	}
	// A message that does not decode stops the bridge and stays queued.
	ntx, nrx, _ := TypedChannel(Func(
		func(n int) ([]byte, error) { return []byte(strconv.Itoa(n)), nil },
		func(b []byte) (int, error) { return strconv.Atoi(string(b)) }))
	defer nrx.Close()
	ntx.Send(7)
	ntx.Sender().Send([]byte("not a number"))
	c := nrx.Chan()
	if n := <-c; n != 7 {
		t.Fatal(n)
	}
	for range c {
	}
	if err := nrx.StopChan(); err == nil {
		t.Fatal("no decoding error")
	}
	if m, _ := nrx.Receiver().TryRecv(); string(m) != "not a number" {
		t.Fatal(string(m))
	}
}

// examples/09_pipeline (mpsc) prints what examples/09_pipeline_chan (Go
// channels) prints: the port changes only the channel operations.
func TestPipelineExampleMatchesGoChannels(t *testing.T) {
	need(t)
	run := func(name string) []byte {
		out, err := exec.Command("bin/" + name).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return out
	}
	ours, std := run("09_pipeline"), run("09_pipeline_chan")
	if !bytes.Equal(ours, std) {
		t.Fatalf("mpsc:\n%s\nGo channels:\n%s", ours, std)
	}
	if !strings.HasPrefix(string(std), "16\n81\n") {
		t.Fatalf("unexpected output:\n%s", std)
	}
}
