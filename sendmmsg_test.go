//go:build linux || freebsd

package mmsg

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSendmmsgBatch(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			rfd, raddr := udpSocket(t, f.af, f.addr, true)
			sfd, saddr := udpSocket(t, f.af, f.addr, true)
			want := payloads(10, 1, 64, 1400, 0)
			msgs := sendHeaders(want, raddr)
			n, err := Sendmmsg(sfd, msgs, 0)
			if err != nil || n != len(want) {
				t.Fatalf("Sendmmsg = %d, %v; want %d, nil", n, err, len(want))
			}
			for i := range n {
				if int(msgs[i].Len) != len(want[i]) {
					t.Errorf("message %d: Len %d, want %d", i, msgs[i].Len, len(want[i]))
				}
			}
			waitQueuedBytes(t, rfd, payloadBytes(want...))
			b := newBatch(16, 2048)
			got, err := Recvmmsg(rfd, b.msgs, 0, nil)
			if err != nil || got != len(want) {
				t.Fatalf("Recvmmsg = %d, %v; want %d", got, err, len(want))
			}
			for i := range got {
				if !bytes.Equal(b.payload(i), want[i]) || rawAddr(&b.msgs[i].Hdr) != saddr {
					t.Errorf("message %d: %q from %v; want %q from %v", i, b.payload(i), rawAddr(&b.msgs[i].Hdr), want[i], saddr)
				}
			}
		})
	}
}

func TestSendmmsgConnected(t *testing.T) {
	rfd, raddr := udpSocket(t, unix.AF_INET6, families[1].addr, true)
	sfd, _ := udpSocket(t, unix.AF_INET6, families[1].addr, true)
	if err := unix.Connect(sfd, sockaddr(raddr)); err != nil {
		t.Fatal(err)
	}
	n, err := Sendmmsg(sfd, sendHeaders(payloads(3, 5), netip.AddrPort{}), 0)
	if err != nil || n != 3 {
		t.Fatalf("Sendmmsg = %d, %v; want 3, nil", n, err)
	}
	waitQueuedBytes(t, rfd, 3*5)
	if n, err := Recvmmsg(rfd, newBatch(8, 16).msgs, 0, nil); n != 3 || err != nil {
		t.Fatalf("Recvmmsg = %d, %v; want 3, nil", n, err)
	}
}

func TestSendmmsgCap(t *testing.T) {
	// The receiver's buffer may overflow; only the counts matter here.
	_, raddr := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
	msgs := sendHeaders(payloads(MaxSendBatch+476, 1), raddr)
	n, err := Sendmmsg(sfd, msgs, 0)
	if err != nil || n != MaxSendBatch {
		t.Fatalf("Sendmmsg(%d) = %d, %v; want %d, nil", len(msgs), n, err, MaxSendBatch)
	}
	n, err = Sendmmsg(sfd, msgs[n:], 0)
	if err != nil || n != 476 {
		t.Fatalf("Sendmmsg(rest) = %d, %v; want 476, nil", n, err)
	}
}

// unixPair is a non-blocking AF_UNIX datagram pair: unlike UDP on loopback,
// a full queue makes the sender's call fail (Linux: EAGAIN; FreeBSD:
// ENOBUFS, sys/kern/uipc_usrreq.c uipc_sosend_dgram).
func unixPair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// fullErrno is the errno this kernel answers a full datagram send queue
// with on an AF_UNIX socket.
func fullErrno() unix.Errno {
	if runtime.GOOS == "freebsd" {
		return unix.ENOBUFS
	}
	return unix.EAGAIN
}

func TestSendmmsgFullBuffer(t *testing.T) {
	a, b := unixPair(t)
	msgs := sendHeaders(payloads(MaxSendBatch, 512), netip.AddrPort{})
	n, err := Sendmmsg(a, msgs, 0)
	if err != nil || n <= 0 || n >= len(msgs) {
		t.Fatalf("Sendmmsg into a filling queue = %d, %v; want 0 < n < %d, nil", n, err, len(msgs))
	}
	m, err := Sendmmsg(a, msgs[n:], 0)
	if m != 0 {
		t.Fatalf("Sendmmsg into a full queue = %d, want 0", m)
	}
	// One error for a full queue on both OSes: it matches EAGAIN and
	// ENOBUFS, and unwraps to the errno the kernel gave.
	checkSyscallError(t, err, sendCall(), unix.EAGAIN)
	checkSyscallError(t, err, sendCall(), unix.ENOBUFS)
	var errno unix.Errno
	if !errors.As(err, &errno) || errno != fullErrno() {
		t.Errorf("%v unwraps to %v; want %v", err, errno, fullErrno())
	}

	// Exactly the n reported were sent, in order.
	got := 0
	rb := newBatch(64, 1024)
	for {
		rb.reset()
		k, err := Recvmmsg(b, rb.msgs, 0, nil)
		if err != nil {
			checkSyscallError(t, err, recvCall(), unix.EAGAIN)
			break
		}
		for i := range k {
			if want := payloads(got+1, 512)[got]; !bytes.Equal(rb.payload(i), want) {
				t.Fatalf("datagram %d: %.12q, want %.12q", got, rb.payload(i), want)
			}
			got++
		}
	}
	if got != n {
		t.Fatalf("received %d datagrams, Sendmmsg reported %d", got, n)
	}
}

func TestSendBatchFullBuffer(t *testing.T) {
	// Inside the package a full queue stays the bare errno, which Conn
	// acts on (EAGAIN: park on the poller; ENOBUFS: back off), and after
	// a message or more it only ends the batch: the loop and Linux's
	// sendmmsg(2) alike.
	for name, send := range map[string]func(int, []Mmsghdr, int) (int, error){
		"sendBatch": func(fd int, msgs []Mmsghdr, flags int) (int, error) {
			n, _, err := sendBatch(fd, msgs, flags)
			return n, err
		},
		"sendLoop": sendLoop,
	} {
		t.Run(name, func(t *testing.T) {
			a, _ := unixPair(t)
			msgs := sendHeaders(payloads(MaxSendBatch, 512), netip.AddrPort{})
			n, err := send(a, msgs, 0)
			if err != nil || n <= 0 || n >= len(msgs) {
				t.Fatalf("into a filling queue: %d, %v; want 0 < n < %d, nil", n, err, len(msgs))
			}
			if m, err := send(a, msgs[n:], 0); m != 0 || err != fullErrno() {
				t.Fatalf("into a full queue: %d, %v (%T); want 0 and the bare %v", m, err, err, fullErrno())
			}
		})
	}
}

func TestFullError(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EAGAIN, unix.ENOBUFS} {
		err := wrapErr(sendCall(), asFull(errno))
		checkSyscallError(t, err, sendCall(), unix.EAGAIN)
		checkSyscallError(t, err, sendCall(), unix.ENOBUFS)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			t.Errorf("%v does not match EWOULDBLOCK", err)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%v must not look like a time-out", err)
		}
		if got := errors.Unwrap(errors.Unwrap(err)); got != errno {
			t.Errorf("%v unwraps to %v; want %v", err, got, errno)
		}
		if !strings.Contains(err.Error(), errno.Error()) {
			t.Errorf("%q does not name %q", err, errno.Error())
		}
		var tmp interface {
			Temporary() bool
			Timeout() bool
		}
		if !errors.As(err, &tmp) {
			t.Errorf("%v has no Temporary and Timeout methods", err)
		} else if !tmp.Temporary() || tmp.Timeout() {
			t.Errorf("%v: Temporary() %v, Timeout() %v; want true, false", err, tmp.Temporary(), tmp.Timeout())
		}
	}
	// Other errors pass through untouched.
	for _, e := range []error{nil, unix.EMSGSIZE, unix.ECONNREFUSED} {
		if got := asFull(e); got != e {
			t.Errorf("asFull(%v) = %v", e, got)
		}
	}
}

func TestSendmmsgAsyncErrorEndsBatch(t *testing.T) {
	// A connected UDP socket whose peer port is closed: each datagram
	// brings back an ICMP port unreachable, and the socket's pending error
	// (ECONNREFUSED) becomes the error of a later message, which is not
	// sent.
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			fd, _ := udpSocket(t, f.af, f.addr, true)
			closedFd, closed := udpSocket(t, f.af, f.addr, true)
			unix.Close(closedFd)
			if err := unix.Connect(fd, sockaddr(closed)); err != nil {
				t.Fatal(err)
			}
			msgs := sendHeaders(payloads(4, 8), netip.AddrPort{})
			if runtime.GOOS == "linux" {
				asyncErrorLinux(t, fd, msgs)
			} else {
				asyncErrorFreeBSD(t, fd, msgs)
			}
		})
	}
}

// asyncErrorLinux: loopback usually delivers each report before sendmmsg
// sends the next message (the receive softirq runs as the send leaves its
// bh-disabled section), and sendmmsg drops the error it meets after the
// first message, so a call sends one message. On a loaded or slow machine
// the softirq may run later (in ksoftirqd, seen under qemu on arm64 and
// 386): a call then sends more before a report is in, or meets one with
// its first message. Either way no call returns an error with a count,
// every message is handed over, and the report for the last is left for
// the next call.
func asyncErrorLinux(t *testing.T, fd int, msgs []Mmsghdr) {
	calls, refused := 0, 0
	for sent := 0; sent < len(msgs); calls++ {
		if calls == 100 {
			t.Fatalf("%d of %d messages sent after %d calls", sent, len(msgs), calls)
		}
		n, err := Sendmmsg(fd, msgs[sent:], 0)
		switch {
		case n > 0 && err == nil:
			sent += n
		case n == 0 && err != nil:
			// A report that came in between two calls.
			checkSyscallError(t, err, sendCall(), unix.ECONNREFUSED)
			refused++
		default:
			t.Fatalf("Sendmmsg(msgs[%d:]) = %d, %v; want n > 0 and nil, or 0 and ECONNREFUSED", sent, n, err)
		}
	}
	t.Logf("%d messages in %d calls, %d of them refused before sending", len(msgs), calls, refused)
	waitQueued(t, fd) // POLLERR
	n, err := Sendmmsg(fd, msgs[:1], 0)
	if n != 0 {
		t.Fatalf("Sendmmsg after the last report = %d, %v; want 0, ECONNREFUSED", n, err)
	}
	checkSyscallError(t, err, sendCall(), unix.ECONNREFUSED)
}

// asyncErrorFreeBSD: the reports arrive asynchronously (netisr), and ICMP
// errors are rate-limited per second (net.inet.icmp.icmplim), which
// earlier tests may have used up: batches are sent until a report comes
// back. The loop never drops it: it ends a batch with the count, or the
// next call returns it before sending anything.
func asyncErrorFreeBSD(t *testing.T, fd int, msgs []Mmsghdr) {
	for tries := 0; ; tries++ {
		if tries == 50 {
			t.Fatalf("no ICMP report after %d batches", tries)
		}
		n, err := Sendmmsg(fd, msgs, 0)
		if err != nil {
			checkSyscallError(t, err, sendCall(), unix.ECONNREFUSED)
			if n >= len(msgs) {
				t.Fatalf("Sendmmsg = %d, %v", n, err)
			}
			t.Logf("batch %d: the report stopped message %d", tries, n)
			return
		}
		if n != len(msgs) {
			t.Fatalf("Sendmmsg = %d, nil; want %d", n, len(msgs))
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if k, _ := unix.Poll(fds, 200); k == 1 {
			n, err := Sendmmsg(fd, msgs, 0)
			if n != 0 {
				t.Fatalf("Sendmmsg with a report pending = %d, %v; want 0, ECONNREFUSED", n, err)
			}
			checkSyscallError(t, err, sendCall(), unix.ECONNREFUSED)
			t.Logf("batch %d: the report came after it", tries)
			return
		}
	}
}
