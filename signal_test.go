//go:build linux || freebsd

package mmsg

import (
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// stormThread locks the calling goroutine to its thread and sends SIGURG,
// the signal Go's runtime itself uses for preemption, to that thread every
// 100µs until the returned stop function is called. It returns the number
// of signals sent so far through count.
func stormThread(t *testing.T) (count *atomic.Int64, stop func()) {
	t.Helper()
	runtime.LockOSThread()
	tid := threadID()
	count = new(atomic.Int64)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if signalThread(tid, unix.SIGURG) == nil {
					count.Add(1)
				}
			}
		}
	}()
	return count, func() {
		close(done)
		<-finished
		runtime.UnlockOSThread()
	}
}

func TestSignalStormTimedWait(t *testing.T) {
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
	count, stop := stormThread(t)
	defer stop()

	// Nothing arrives: the time-out holds, no EINTR surfaces.
	const d = 300 * time.Millisecond
	start := time.Now()
	n, err := Recvmmsg(fd, newBatch(4, 16).msgs, 0, ptr(unix.NsecToTimespec(int64(d))))
	elapsed := time.Since(start)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recvmmsg = %d, %v; want 0 and a time-out", n, err)
	}
	if errors.Is(err, unix.EINTR) {
		t.Fatalf("EINTR surfaced: %v", err)
	}
	if elapsed < d || elapsed > 20*time.Second {
		t.Fatalf("time-out of %v ended after %v", d, elapsed)
	}
	if c := count.Load(); c < 10 {
		t.Fatalf("only %d signals were sent during the wait", c)
	}

	// A datagram sent in the middle of the storm is received.
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
	before := count.Load()
	sent := make(chan error, 1)
	go func() {
		for count.Load() < before+50 {
			runtime.Gosched()
		}
		sent <- unix.Sendto(sfd, []byte("mid-storm"), 0, sockaddr(addr))
	}()
	b := newBatch(4, 16)
	n, err = Recvmmsg(fd, b.msgs, 0, &unix.Timespec{Sec: 60})
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if n != 1 || err != nil || string(b.payload(0)) != "mid-storm" {
		t.Fatalf("Recvmmsg = %d, %v, %q; want 1, nil, \"mid-storm\"", n, err, b.payload(0))
	}
}

func TestSignalStormBlockingWait(t *testing.T) {
	// No time-out, blocking socket, MSG_WAITFORONE: the kernel's own wait
	// (recvmmsg on Linux, recvmsg on FreeBSD) is interrupted over and over.
	fd, addr := udpSocket(t, unix.AF_INET6, families[1].addr, false)
	sfd, _ := udpSocket(t, unix.AF_INET6, families[1].addr, false)
	count, stop := stormThread(t)
	defer stop()
	sent := make(chan error, 1)
	go func() {
		for count.Load() < 100 {
			runtime.Gosched()
		}
		sent <- unix.Sendto(sfd, []byte("late"), 0, sockaddr(addr))
	}()
	b := newBatch(4, 16)
	n, err := Recvmmsg(fd, b.msgs, MSG_WAITFORONE, nil)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if n != 1 || err != nil || string(b.payload(0)) != "late" {
		t.Fatalf("Recvmmsg = %d, %v, %q; want 1, nil, \"late\"", n, err, b.payload(0))
	}
}

func TestSignalEndsWaitForMoreWithoutLeakingErrno(t *testing.T) {
	signalEndsWaitForMore(t, func(fd int, msgs []Mmsghdr, flags int) (int, error) {
		return Recvmmsg(fd, msgs, flags, nil)
	})
}

// TestRecvLoopSignalEndsWaitForMore runs the same through recvLoop on any
// kernel: Go installs its signal handlers with SA_RESTART, which restarts a
// blocking recvmsg (Linux and FreeBSD alike), so a loop that waited for the
// second datagram inside recvmsg would never return.
func TestRecvLoopSignalEndsWaitForMore(t *testing.T) {
	signalEndsWaitForMore(t, func(fd int, msgs []Mmsghdr, flags int) (int, error) {
		n, err := recvLoop(fd, msgs, flags)
		return n, wrapErr("recvmsg", err) // the loop makes recvmsg(2)
	})
}

// signalEndsWaitForMore checks that a signal ends the wait for the rest of a
// batch on a blocking socket, through recv (Recvmmsg or recvLoop). The
// seccomp child of TestENOSYSFallback runs it too.
//
// A blocking socket without MSG_WAITFORONE waits for all of the batch. A
// signal ends that wait: the datagram in hand is returned. Linux's
// recvmmsg then keeps -ERESTARTSYS in sk_err, and its next call returns
// errno 512, which no program should see: mmsg treats it as EINTR.
func signalEndsWaitForMore(t *testing.T, recv func(fd int, msgs []Mmsghdr, flags int) (int, error)) {
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sendTo(t, sfd, addr, []byte("one"))
	waitQueued(t, fd)
	_, stop := stormThread(t)
	b := newBatch(2, 16)
	n, err := recv(fd, b.msgs, 0)
	stop()
	if n != 1 || err != nil || string(b.payload(0)) != "one" {
		t.Fatalf("Recvmmsg = %d, %v, %q; want 1, nil, \"one\"", n, err, b.payload(0))
	}
	n, err = recv(fd, newBatch(2, 16).msgs, unix.MSG_DONTWAIT)
	if n != 0 || !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("next Recvmmsg = %d, %v; want 0, EAGAIN", n, err)
	}
	sendTo(t, sfd, addr, []byte("two"))
	waitQueued(t, fd)
	b.reset()
	if n, err := recv(fd, b.msgs, unix.MSG_DONTWAIT); n != 1 || err != nil || string(b.payload(0)) != "two" {
		t.Fatalf("Recvmmsg = %d, %v, %q; want 1, nil, \"two\"", n, err, b.payload(0))
	}
}
