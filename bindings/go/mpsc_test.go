// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package mpsc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func need(t *testing.T) {
	if _, err := os.Stat(Device); err != nil {
		t.Skip("/dev/mpsc is absent: mpsc.ko is not loaded")
	}
}

// The ABI constants agree with uapi/linux/mpsc.h, compiled by cc.
func TestABIMatchesHeader(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "probe.c")
	prog := `#include <stdio.h>
#include <linux/mpsc.h>
int main(void) {
	printf("%llu %llu %llu %llu %llu %llu %llu %llu\n",
	       (unsigned long long)MPSC_IOC_CLONE_SENDER,
	       (unsigned long long)MPSC_IOC_DISCONNECT,
	       (unsigned long long)MPSC_IOC_INFO,
	       (unsigned long long)MPSC_IOC_PEEK_LEN,
	       (unsigned long long)MPSC_IOC_SET_CAPACITY,
	       (unsigned long long)MPSC_IOC_CLOSE,
	       (unsigned long long)MPSC_IOC_SEND,
	       (unsigned long long)MPSC_IOC_RECV);
	return 0;
}`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "probe")
	out, err := exec.Command("cc", "-I", "../../uapi", "-o", exe, src).CombinedOutput()
	if err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	out, err = exec.Command(exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := []uintptr{iocCloneSender, iocDisconnect, iocInfo, iocPeekLen, iocSetCapacity,
		iocClose, iocSend, iocRecv}
	for i, f := range strings.Fields(string(out)) {
		v, _ := strconv.ParseUint(f, 10, 64)
		if uintptr(v) != want[i] {
			t.Errorf("ioctl %d: header %#x, Go %#x", i, v, want[i])
		}
	}
	if unsafe.Sizeof(Info{}) != 128 || unsafe.Sizeof(xfer{}) != 48 {
		t.Errorf("struct sizes %d %d", unsafe.Sizeof(Info{}), unsafe.Sizeof(xfer{}))
	}
}

func TestSendRecv(t *testing.T) {
	need(t)
	tx, rx, err := Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := tx.Send([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	msg, err := rx.Recv()
	if err != nil || string(msg) != "hello" {
		t.Fatalf("%q %v", msg, err)
	}
	tx.Close()
	if _, err := rx.Recv(); err != ErrDisconnected {
		t.Fatalf("want ErrDisconnected, got %v", err)
	}
}

func TestEmptyMessage(t *testing.T) {
	need(t)
	tx, rx, _ := Channel()
	defer tx.Close()
	defer rx.Close()
	if err := tx.Send(nil); err != ErrEmptyMessage {
		t.Fatal(err)
	}
	if err := tx.TrySend([]byte{}); err != ErrEmptyMessage {
		t.Fatal(err)
	}
}

func TestCloneAndGoroutines(t *testing.T) {
	need(t)
	tx, rx, _ := Channel()
	defer rx.Close()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		c, err := tx.Clone()
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int, c *Sender) {
			defer wg.Done()
			defer c.Close()
			for j := 0; j < 50; j++ {
				c.Send([]byte(fmt.Sprintf("%d %d", i, j)))
			}
		}(i, c)
	}
	tx.Close()
	next := map[int]int{}
	n := 0
	for msg := range rx.Chan() {
		var i, j int
		fmt.Sscanf(string(msg), "%d %d", &i, &j)
		if next[i] != j {
			t.Fatalf("sender %d: got %d, want %d", i, j, next[i])
		}
		next[i]++
		n++
	}
	wg.Wait()
	if n != 200 {
		t.Fatalf("got %d messages", n)
	}
}

func TestTryRecv(t *testing.T) {
	need(t)
	tx, rx, _ := Channel()
	defer rx.Close()
	if _, err := rx.TryRecv(); err != ErrEmpty {
		t.Fatal(err)
	}
	tx.Send([]byte("x"))
	if m, err := rx.TryRecv(); err != nil || string(m) != "x" {
		t.Fatal(m, err)
	}
	tx.Close()
	if _, err := rx.TryRecv(); err != ErrDisconnected {
		t.Fatal(err)
	}
}

func TestRecvTimeout(t *testing.T) {
	need(t)
	tx, rx, _ := Channel()
	defer tx.Close()
	defer rx.Close()
	start := time.Now()
	if _, err := rx.RecvTimeout(50 * time.Millisecond); err != ErrTimeout {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	if _, err := rx.RecvTimeout(0); err != ErrTimeout {
		t.Fatal(err)
	}
}

func TestSyncChannel(t *testing.T) {
	need(t)
	tx, rx, err := SyncChannel(2)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	defer rx.Close()
	tx.TrySend([]byte("a"))
	tx.TrySend([]byte("b"))
	if err := tx.TrySend([]byte("c")); err != ErrFull {
		t.Fatal(err)
	}
	if err := tx.SendTimeout([]byte("c"), 20*time.Millisecond); err != ErrTimeout {
		t.Fatal(err)
	}
	info, _ := rx.Info()
	if info.Capacity != 2 || info.QueuedMsgs != 2 {
		t.Fatalf("%+v", info)
	}
}

func TestRendezvous(t *testing.T) {
	need(t)
	tx, rx, _ := SyncChannel(0)
	defer tx.Close()
	defer rx.Close()
	if err := tx.TrySend([]byte("x")); err != ErrFull {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		m, _ := rx.Recv()
		got <- string(m)
	}()
	if err := tx.Send([]byte("handed")); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "handed" {
		t.Fatal(g)
	}
}

func TestReceiverGone(t *testing.T) {
	need(t)
	tx, rx, _ := Channel()
	defer tx.Close()
	rx.Close()
	if err := tx.Send([]byte("x")); err != ErrDisconnected {
		t.Fatal(err)
	}
}

func TestShutdown(t *testing.T) {
	need(t)
	tx, rx, _ := Channel()
	defer tx.Close()
	defer rx.Close()
	tx.Send([]byte("kept"))
	if err := rx.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Send([]byte("no")); err != ErrDisconnected {
		t.Fatal(err)
	}
	if m, _ := rx.Recv(); string(m) != "kept" {
		t.Fatal(m)
	}
	if _, err := rx.Recv(); err != ErrDisconnected {
		t.Fatal(err)
	}
}

func TestSelectWithBridge(t *testing.T) {
	need(t)
	tx1, rx1, _ := Channel()
	tx2, rx2, _ := Channel()
	defer rx1.Close()
	defer rx2.Close()
	c1, c2 := rx1.Chan(), rx2.Chan()
	tx2.Send([]byte("two"))
	select {
	case m := <-c1:
		t.Fatalf("from 1: %q", m)
	case m := <-c2:
		if string(m) != "two" {
			t.Fatal(m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timeout")
	}
	tx1.Close()
	tx2.Close()
	if _, ok := <-c1; ok {
		t.Fatal("c1 not closed")
	}
}
