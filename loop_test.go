//go:build linux || freebsd

package mmsg

import (
	"bytes"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests run recvLoop and sendLoop, the FreeBSD implementation, on any
// kernel, and compare them with what FreeBSD libc's recvmmsg/sendmmsg do.

func TestRecvLoopReceivesQueued(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			fd, addr := udpSocket(t, f.af, f.addr, true)
			sfd, saddr := udpSocket(t, f.af, f.addr, true)
			want := payloads(5, 3, 300)
			sendTo(t, sfd, addr, want...)
			waitQueuedBytes(t, fd, payloadBytes(want...))
			b := newBatch(8, 512)
			// libc: returns 5, and the EAGAIN that ended the loop
			// is not an error. Same here.
			n, err := recvLoop(fd, b.msgs, 0)
			if err != nil || n != 5 {
				t.Fatalf("recvLoop = %d, %v; want 5, nil", n, err)
			}
			for i := range n {
				if !bytes.Equal(b.payload(i), want[i]) || rawAddr(&b.msgs[i].Hdr) != saddr {
					t.Errorf("message %d: %q from %v", i, b.payload(i), rawAddr(&b.msgs[i].Hdr))
				}
			}
			// libc: -1/EAGAIN on an empty non-blocking socket. Same.
			b.reset()
			if n, err := recvLoop(fd, b.msgs, 0); n != 0 || err != unix.EAGAIN {
				t.Fatalf("recvLoop(empty) = %d, %v; want 0, EAGAIN", n, err)
			}
		})
	}
}

func TestRecvLoopWaitForOne(t *testing.T) {
	// libc: with MSG_WAITFORONE the first recvmsg blocks and the rest
	// get MSG_DONTWAIT. Without it, a blocking socket waits for all.
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sendTo(t, sfd, addr, payloads(3, 8)...)
	waitQueuedBytes(t, fd, 3*8)
	n, err := recvLoop(fd, newBatch(8, 16).msgs, MSG_WAITFORONE)
	if err != nil || n != 3 {
		t.Fatalf("recvLoop(MSG_WAITFORONE) = %d, %v; want 3, nil", n, err)
	}
	// The kernel never sees MSG_WAITFORONE: on FreeBSD its bit has no
	// meaning for recvmsg, on Linux it would not be understood either.
	sendTo(t, sfd, addr, []byte("x"))
	waitQueued(t, fd)
	if n, err := recvLoop(fd, newBatch(1, 16).msgs, MSG_WAITFORONE|unix.MSG_DONTWAIT); n != 1 || err != nil {
		t.Fatalf("recvLoop = %d, %v; want 1, nil", n, err)
	}
}

// faultingBuffer returns a page the kernel cannot write to, so that a
// receive into it fails with EFAULT after the datagram was dequeued.
func faultingBuffer(t *testing.T) []byte {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, unix.Getpagesize(), unix.PROT_NONE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	return mem
}

// faultOnSecond queues "first" and "second" on a socket and returns it
// with a batch of two whose second buffer faults.
func faultOnSecond(t *testing.T) (int, *batch) {
	t.Helper()
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sendTo(t, sfd, addr, []byte("first"), []byte("second"))
	waitQueuedBytes(t, fd, len("first")+len("second"))
	b := newBatch(2, 16)
	b.iovs[1].Base = &faultingBuffer(t)[0]
	return fd, b
}

func TestRecvLoopKeepsErrorAfterFirst(t *testing.T) {
	// libc: recvmsg fails for message 1, the loop returns 1 and the
	// EFAULT is gone. recvLoop returns it with the count.
	fd, b := faultOnSecond(t)
	n, err := recvLoop(fd, b.msgs, 0)
	if n != 1 || err != unix.EFAULT || string(b.payload(0)) != "first" {
		t.Fatalf("recvLoop = %d, %v, %q; want 1, EFAULT, \"first\"", n, err, b.payload(0))
	}
}

func TestRecvmmsgKeepsErrorAfterFirst(t *testing.T) {
	if underQEMU() {
		// qemu-user emulates recvmmsg(2) as a loop of recvmsg that,
		// like FreeBSD libc, drops the error after a partial batch.
		t.Skip("qemu-user drops the error that ends a partial recvmmsg batch")
	}
	// The same through Recvmmsg: on Linux the kernel returns the count
	// and keeps the EFAULT in sk_err for the next call; on FreeBSD the
	// loop returns it at once. Either way, the caller sees it.
	fd, b := faultOnSecond(t)
	n, err := Recvmmsg(fd, b.msgs, 0, nil)
	if n != 1 || string(b.payload(0)) != "first" {
		t.Fatalf("Recvmmsg = %d, %v, %q; want 1 and \"first\"", n, err, b.payload(0))
	}
	if err == nil {
		_, err = Recvmmsg(fd, newBatch(2, 16).msgs, 0, nil)
	}
	checkSyscallError(t, err, recvCall(), unix.EFAULT)
}

func TestSendKeepsErrorAfterFirst(t *testing.T) {
	a, _ := unixPair(t)
	bad := faultingBuffer(t)
	broken := func() []Mmsghdr {
		msgs := sendHeaders(payloads(3, 8), netip.AddrPort{})
		var iov unix.Iovec
		iov.Base = &bad[0]
		iov.SetLen(8)
		msgs[1].Hdr.Iov = &iov
		return msgs
	}

	// libc: sendmsg fails for message 1 and the loop returns 1, error
	// dropped. sendLoop returns it with the count.
	if n, err := sendLoop(a, broken(), 0); n != 1 || err != unix.EFAULT {
		t.Fatalf("sendLoop = %d, %v; want 1, EFAULT", n, err)
	}
	// Linux's sendmmsg drops it too; the call for msgs[n:] meets it.
	msgs := broken()
	n, err := Sendmmsg(a, msgs, 0)
	if n != 1 {
		t.Fatalf("Sendmmsg = %d, %v; want 1", n, err)
	}
	if err == nil {
		n, err = Sendmmsg(a, msgs[n:], 0)
		if n != 0 {
			t.Fatalf("Sendmmsg(rest) = %d, want 0", n)
		}
	}
	checkSyscallError(t, err, sendCall(), unix.EFAULT)
}

// rawRecvs are the two ways into a receive without a time-out: the
// exported call (the kernel's recvmmsg on Linux) and the loop itself.
var rawRecvs = []struct {
	name string
	recv func(fd int, msgs []Mmsghdr, flags int) (int, error)
}{
	{"Recvmmsg", func(fd int, msgs []Mmsghdr, flags int) (int, error) { return Recvmmsg(fd, msgs, flags, nil) }},
	{"recvLoop", recvLoop},
}

func TestRecvLoopWaitsForMoreOnBlockingSocket(t *testing.T) {
	// Without MSG_WAITFORONE a blocking socket waits for the whole batch,
	// as both kernels' recvmmsg do. The loop waits in ppoll, not in
	// recvmsg (see TestRecvLoopSignalEndsWaitForMore), and a datagram
	// that comes later joins the batch.
	for _, r := range rawRecvs {
		t.Run(r.name, func(t *testing.T) {
			fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
			sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
			sendTo(t, sfd, addr, []byte("one"))
			waitQueued(t, fd)
			timer := time.AfterFunc(100*time.Millisecond, func() { unix.Sendto(sfd, []byte("two"), 0, sockaddr(addr)) })
			defer timer.Stop()
			b := newBatch(2, 16)
			restore := quietThread(t) // a signal would end the wait (see quietThread)
			n, err := r.recv(fd, b.msgs, 0)
			restore()
			if n != 2 || err != nil || string(b.payload(0)) != "one" || string(b.payload(1)) != "two" {
				t.Fatalf("%d, %v, %q, %q; want 2, nil, \"one\", \"two\"", n, err, b.payload(0), b.payload(1))
			}
		})
	}
}

func TestRecvLoopWaitForMoreHonoursRcvtimeo(t *testing.T) {
	// SO_RCVTIMEO bounds each wait for a further datagram of a blocking
	// batch, in the kernels' recvmmsg and in the loop alike: then the
	// batch ends with what is in hand, and no error. The wait is made on
	// a quiet thread: a signal also ends it, by design, and Go's runtime
	// sends some (1 run in 7 on Linux 5.10 under qemu returned after 3ms,
	// n = 1, before this).
	//
	// The kernel times its wait in jiffies (sock_set_timeout, then
	// schedule_timeout), the test with CLOCK_MONOTONIC: under qemu TCG
	// (clocksource hpet, the TSC marked unstable) Linux 6.1's recvmmsg
	// once returned after 78ms of a 100ms SO_RCVTIMEO on a quiet thread,
	// with no pending error (1 run in about 10). Whether the call waited
	// at all is what the lower bound checks there: half the time-out. The
	// loop times its wait itself, with ppoll and Go's clock: 9/10.
	const timeo = 100 * time.Millisecond
	for _, r := range rawRecvs {
		t.Run(r.name, func(t *testing.T) {
			least := timeo * 9 / 10
			if r.name == "Recvmmsg" && runtime.GOOS == "linux" {
				least = timeo / 2 // the kernel's own wait
			}
			fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
			sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
			tv := unix.NsecToTimeval(int64(timeo))
			if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
				t.Fatal(err)
			}
			sendTo(t, sfd, addr, []byte("one"))
			waitQueued(t, fd)
			b := newBatch(3, 16)
			restore := quietThread(t)
			start := time.Now()
			n, err := r.recv(fd, b.msgs, 0)
			elapsed := time.Since(start)
			restore()
			if n != 1 || err != nil || string(b.payload(0)) != "one" {
				t.Fatalf("%d, %v, %q; want 1, nil, \"one\"", n, err, b.payload(0))
			}
			if elapsed < least || elapsed > 10*time.Second {
				// What ended the wait: Linux's recvmmsg keeps the
				// error of an ended batch for the next call (EINTR:
				// a signal).
				soErr, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
				t.Errorf("returned after %v; want about %v (SO_ERROR now: %v)", elapsed, timeo, unix.Errno(soErr))
			}
		})
	}
}

func TestRecvLoopWaitForMoreEndsAtShutdown(t *testing.T) {
	// shutdown(SHUT_RD) ends the wait for the rest of a blocking batch,
	// whether it comes before the call or during the wait. Then every
	// further receive that would block returns 0 bytes at once, and the
	// kernel's recvmmsg fills the rest of the batch with empty messages;
	// the loop does the same. Linux keeps the queued datagram.
	for _, during := range []bool{false, true} {
		for _, r := range rawRecvs {
			t.Run(fmt.Sprintf("%s/during=%v", r.name, during), func(t *testing.T) {
				// The shutdown during the wait comes after each of
				// waitLengths, and the two waits must sleep.
				lengths := waitLengths[:]
				if !during {
					lengths = lengths[:1]
				}
				var rs []callResult
				for _, d := range lengths {
					rs = append(rs, waitForMoreThenShutdown(t, r.recv, during, d))
				}
				if during {
					checkSleeps(t, rs[0], rs[1])
				}
			})
		}
	}
}

// waitForMoreThenShutdown makes recv wait for the rest of a blocking batch
// of 3 with one datagram in hand, shuts the socket down for reading
// before the call or, during, d into the wait, and checks the batch.
func waitForMoreThenShutdown(t *testing.T, recv func(int, []Mmsghdr, int) (int, error), during bool, d time.Duration) callResult {
	t.Helper()
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sfd, saddr := udpSocket(t, unix.AF_INET, families[0].addr, false)
	if err := unix.Connect(fd, sockaddr(saddr)); err != nil {
		t.Fatal(err)
	}
	sendTo(t, sfd, addr, []byte("one"))
	waitQueued(t, fd)
	shut := func() { unix.Shutdown(fd, unix.SHUT_RD) }
	if during {
		timer := time.AfterFunc(d, shut)
		defer timer.Stop()
	} else {
		shut()
	}
	b := newBatch(3, 16)
	res := measured(t, func() (int, error) {
		defer quietThread(t)() // a signal would end the wait too
		return recv(fd, b.msgs, 0)
	})
	if res.n != 3 || res.err != nil {
		t.Fatalf("%d, %v; want 3, nil", res.n, res.err)
	}
	for i := range res.n {
		want := ""
		if i == 0 && (during || runtime.GOOS == "linux") {
			want = "one"
		}
		if string(b.payload(i)) != want {
			t.Errorf("message %d: %q; want %q", i, b.payload(i), want)
		}
	}
	return res
}
