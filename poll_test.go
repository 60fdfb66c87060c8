//go:build linux || freebsd

package mmsg

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// callResult is what a call made on a measured thread returned.
type callResult struct {
	n         int
	err       error
	wall, cpu time.Duration
}

// measured runs call on a goroutine locked to its own OS thread and
// returns what it returned, with the wall time and the CPU time of that
// thread. A call that has not returned after 20s fails the test (a
// spinning wait would otherwise hang it).
func measured(t *testing.T, call func() (int, error)) callResult {
	t.Helper()
	done := make(chan callResult, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0, start := threadCPUTime(t), time.Now()
		n, err := call()
		done <- callResult{n, err, time.Since(start), threadCPUTime(t) - cpu0}
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("the call has not returned after 20s")
		return callResult{}
	}
}

// waitLengths are the lengths of the two waits checkSleeps compares.
var waitLengths = [2]time.Duration{100 * time.Millisecond, 400 * time.Millisecond}

// checkSleeps fails the test if a wait kept its thread busy, from two
// waits made the same way, of waitLengths[0] and waitLengths[1]: a
// sleeping wait costs a few system calls whatever its length, a spinning
// one costs CPU in proportion to it. Comparing the two leaves out what
// the call costs besides the wait (thread setup, page faults, qemu TCG
// translating code met for the first time), which grows with a slow
// machine: under TCG on s390x a sleeping 200ms wait cost 67ms of CPU
// there. The 300ms more of a spinning wait cost 300ms more (150 with
// half a core); 75ms more is the limit. (The walls themselves are not
// compared: under TCG the short one once took 294ms, the long one 401.)
func checkSleeps(t *testing.T, short, long callResult) {
	t.Helper()
	more := waitLengths[1] - waitLengths[0]
	if extra := long.cpu - short.cpu; extra > more/4 {
		t.Errorf("waiting %v longer cost the thread %v more CPU (%v in %v, then %v in %v): it spins",
			long.wall-short.wall, extra, short.cpu, short.wall, long.cpu, long.wall)
	}
}

// checkTimedWaitSleeps calls Recvmmsg with flags on fd, where poll keeps
// reporting something that a receive with these flags does not find,
// with a time-out of each of waitLengths. The calls must time out at
// their deadlines, without spinning until them.
func checkTimedWaitSleeps(t *testing.T, fd, flags int) {
	t.Helper()
	var rs [2]callResult
	for i, d := range waitLengths {
		r := measured(t, func() (int, error) {
			return Recvmmsg(fd, newBatch(2, 64).msgs, flags, ptr(unix.NsecToTimespec(int64(d))))
		})
		if r.n != 0 {
			t.Fatalf("Recvmmsg = %d, %v; want 0 and a time-out", r.n, r.err)
		}
		checkSyscallError(t, r.err, recvCall(), os.ErrDeadlineExceeded)
		if r.wall < d || r.wall > 10*time.Second {
			t.Errorf("a %v time-out ended after %v", d, r.wall)
		}
		rs[i] = r
	}
	checkSleeps(t, rs[0], rs[1])
}

// readableWithout checks that poll reports fd readable (POLLIN or
// POLLERR, in want) while a receive with flags finds nothing: the state in
// which a level-triggered wait would spin.
func readableWithout(t *testing.T, fd, flags int, want int16) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); n != 1 || err != nil || fds[0].Revents&want == 0 {
		t.Fatalf("poll = %d, %v, revents %#x; want %#x set", n, err, fds[0].Revents, want)
	}
	if n, err := recvLoop(fd, newBatch(1, 64).msgs, flags|unix.MSG_DONTWAIT); err != unix.EAGAIN {
		t.Fatalf("receive with flags %#x = %d, %v; want EAGAIN", flags, n, err)
	}
}

func TestTimedRecvmmsgAfterShutdown(t *testing.T) {
	// After shutdown(SHUT_RD) poll reports the socket readable for good.
	// Linux's receive still answers EAGAIN, and a timed call returns that
	// EAGAIN at once instead of waiting until the deadline; FreeBSD's
	// receive returns 0 bytes (soreceive_dgram: SBS_CANTRCVMORE), one
	// empty message.
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, true)
	if err := unix.Connect(fd, sockaddr(addr)); err != nil {
		t.Fatal(err)
	}
	if err := unix.Shutdown(fd, unix.SHUT_RD); err != nil {
		t.Fatal(err)
	}
	r := measured(t, func() (int, error) {
		return Recvmmsg(fd, newBatch(1, 64).msgs, 0, &unix.Timespec{Sec: 30})
	})
	if r.wall > 10*time.Second {
		t.Fatalf("Recvmmsg after shutdown took %v", r.wall)
	}
	switch runtime.GOOS {
	case "linux":
		if r.n != 0 || !errors.Is(r.err, unix.EAGAIN) {
			t.Fatalf("Recvmmsg = %d, %v; want 0, EAGAIN", r.n, r.err)
		}
	case "freebsd":
		if r.n != 1 || r.err != nil {
			t.Fatalf("Recvmmsg = %d, %v; want 1, nil", r.n, r.err)
		}
	}
}
