//go:build linux || freebsd

package mmsg

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// checkSyscallError asserts the error convention: an *os.SyscallError with
// the given name that matches want with errors.Is.
func checkSyscallError(t *testing.T, err error, name string, want error) {
	t.Helper()
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != name {
		t.Fatalf("error %v (%T): want an *os.SyscallError named %q", err, err, name)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v: want errors.Is(err, %v)", err, want)
	}
}

func TestRecvmmsgBatch(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			rfd, raddr := udpSocket(t, f.af, f.addr, true)
			sfd, saddr := udpSocket(t, f.af, f.addr, true)
			want := payloads(5, 1, 100, 1200, 0, 37)
			sendTo(t, sfd, raddr, want...)
			waitQueuedBytes(t, rfd, payloadBytes(want...))

			b := newBatch(8, 2048)
			n, err := Recvmmsg(rfd, b.msgs, 0, nil)
			if err != nil || n != len(want) {
				t.Fatalf("Recvmmsg = %d, %v; want %d, nil", n, err, len(want))
			}
			for i := range n {
				if got := b.payload(i); !bytes.Equal(got, want[i]) {
					t.Errorf("message %d: payload %q, want %q", i, got, want[i])
				}
				if got := rawAddr(&b.msgs[i].Hdr); got != saddr {
					t.Errorf("message %d: source %v, want %v", i, got, saddr)
				}
				if b.msgs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
					t.Errorf("message %d: MSG_TRUNC set for a datagram that fit", i)
				}
			}
			// The rest of the batch is untouched.
			for i := n; i < len(b.msgs); i++ {
				if b.msgs[i].Len != 0 {
					t.Errorf("message %d beyond n has Len %d", i, b.msgs[i].Len)
				}
			}
		})
	}
}

func TestRecvmmsgEmptyBatchMakesNoSystemCall(t *testing.T) {
	// A connected socket whose peer port is closed gets ECONNREFUSED from
	// the ICMP error; the kernel keeps it in sk_err until a call takes
	// it. An empty batch must not take it (Linux's recvmmsg would).
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			fd, _ := udpSocket(t, f.af, f.addr, true)
			closedFd, closed := udpSocket(t, f.af, f.addr, true)
			unix.Close(closedFd)
			if err := unix.Connect(fd, sockaddr(closed)); err != nil {
				t.Fatal(err)
			}
			if _, err := unix.Write(fd, []byte("x")); err != nil {
				t.Fatal(err)
			}
			waitQueued(t, fd) // POLLERR wakes poll too

			for _, msgs := range [][]Mmsghdr{nil, {}} {
				if n, err := Recvmmsg(fd, msgs, 0, nil); n != 0 || err != nil {
					t.Fatalf("Recvmmsg(empty) = %d, %v; want 0, nil", n, err)
				}
				if n, err := Recvmmsg(fd, msgs, 0, &unix.Timespec{}); n != 0 || err != nil {
					t.Fatalf("Recvmmsg(empty, timeout) = %d, %v; want 0, nil", n, err)
				}
				if n, err := Sendmmsg(fd, msgs, 0); n != 0 || err != nil {
					t.Fatalf("Sendmmsg(empty) = %d, %v; want 0, nil", n, err)
				}
			}
			n, err := Recvmmsg(fd, newBatch(1, 16).msgs, 0, nil)
			if n != 0 {
				t.Fatalf("n = %d, want 0", n)
			}
			checkSyscallError(t, err, recvCall(), unix.ECONNREFUSED)
		})
	}
}

func TestRecvmmsgEAGAIN(t *testing.T) {
	fd, _ := udpSocket(t, unix.AF_INET, families[0].addr, true)
	n, err := Recvmmsg(fd, newBatch(4, 16).msgs, 0, nil)
	if n != 0 {
		t.Errorf("n = %d, want 0", n)
	}
	checkSyscallError(t, err, recvCall(), unix.EAGAIN)
	if !errors.Is(err, unix.EWOULDBLOCK) {
		t.Errorf("%v does not match EWOULDBLOCK", err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("EAGAIN must not look like a time-out")
	}
	// MSG_DONTWAIT on a blocking socket is the same.
	bfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
	_, err = Recvmmsg(bfd, newBatch(4, 16).msgs, unix.MSG_DONTWAIT, nil)
	checkSyscallError(t, err, recvCall(), unix.EAGAIN)
}

func TestRecvmmsgTimeout(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			// Blocking socket, nothing sent: only our wait can end it.
			fd, _ := udpSocket(t, f.af, f.addr, false)
			const d = 50 * time.Millisecond
			start := time.Now()
			n, err := Recvmmsg(fd, newBatch(4, 16).msgs, 0, ptr(unix.NsecToTimespec(int64(d))))
			elapsed := time.Since(start)
			if n != 0 {
				t.Errorf("n = %d, want 0", n)
			}
			checkSyscallError(t, err, recvCall(), os.ErrDeadlineExceeded)
			if !errors.Is(err, unix.ETIMEDOUT) {
				t.Errorf("%v does not match ETIMEDOUT", err)
			}
			var te interface{ Timeout() bool }
			if !errors.As(err, &te) || !te.Timeout() {
				t.Errorf("%v: Timeout() is not true", err)
			}
			if elapsed < d {
				t.Errorf("returned after %v, before the %v time-out", elapsed, d)
			}
			if elapsed > 10*time.Second {
				t.Errorf("returned after %v for a %v time-out", elapsed, d)
			}
		})
	}
}

func TestRecvmmsgZeroTimeoutPolls(t *testing.T) {
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
	b := newBatch(4, 64)
	zero := &unix.Timespec{}
	_, err := Recvmmsg(fd, b.msgs, 0, zero)
	checkSyscallError(t, err, recvCall(), os.ErrDeadlineExceeded)

	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sendTo(t, sfd, addr, []byte("one"), []byte("two"))
	waitQueuedBytes(t, fd, len("one")+len("two"))
	// Both are queued, and a zero time-out takes what is there.
	n, err := Recvmmsg(fd, b.msgs, 0, zero)
	if err != nil || n != 2 {
		t.Fatalf("Recvmmsg = %d, %v; want 2, nil", n, err)
	}
}

func TestRecvmmsgTimeoutTakesOnlyWhatIsQueued(t *testing.T) {
	// On a blocking socket without MSG_WAITFORONE both kernels would wait
	// for len(msgs) datagrams. With a time-out, the wait is for the first
	// one only: the call returns the two that are queued, at once.
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sendTo(t, sfd, addr, []byte("a"), []byte("b"))
	waitQueuedBytes(t, fd, 2)
	start := time.Now()
	n, err := Recvmmsg(fd, newBatch(8, 16).msgs, 0, &unix.Timespec{Sec: 30})
	if err != nil || n != 2 {
		t.Fatalf("Recvmmsg = %d, %v; want 2, nil", n, err)
	}
	if e := time.Since(start); e > 10*time.Second {
		t.Fatalf("took %v: waited for more datagrams", e)
	}
}

func TestRecvmmsgTimeoutReceivesLateDatagram(t *testing.T) {
	fd, addr := udpSocket(t, unix.AF_INET6, families[1].addr, false)
	sfd, _ := udpSocket(t, unix.AF_INET6, families[1].addr, false)
	sent := sendAsync(sfd, addr, []byte("late"))
	b := newBatch(4, 16)
	n, err := Recvmmsg(fd, b.msgs, 0, &unix.Timespec{Sec: 30})
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err != nil || n != 1 || string(b.payload(0)) != "late" {
		t.Fatalf("Recvmmsg = %d, %v, %q; want 1, nil, \"late\"", n, err, b.payload(0))
	}
}

func TestRecvmmsgInvalidTimeout(t *testing.T) {
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, true)
	for _, ts := range []unix.Timespec{{Sec: -1}, {Nsec: -1}, {Nsec: 1e9}, {Sec: 1, Nsec: 2e9}} {
		n, err := Recvmmsg(fd, newBatch(1, 16).msgs, 0, &ts)
		if n != 0 {
			t.Errorf("%+v: n = %d", ts, n)
		}
		checkSyscallError(t, err, recvCall(), unix.EINVAL)
	}
	// The largest valid time-out is "forever", not an overflow into the
	// past: with a datagram queued the call returns it.
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sendTo(t, sfd, addr, []byte("x"))
	waitQueued(t, fd)
	huge := unix.Timespec{Nsec: 999999999}
	huge.Sec = 1<<(8*unsafe.Sizeof(huge.Sec)-1) - 1
	n, err := Recvmmsg(fd, newBatch(1, 16).msgs, 0, &huge)
	if n != 1 || err != nil {
		t.Fatalf("Recvmmsg(huge timeout) = %d, %v; want 1, nil", n, err)
	}
}

func TestRecvmmsgWaitForOne(t *testing.T) {
	// A blocking socket: MSG_WAITFORONE blocks for the first datagram and
	// then takes only what is queued. Without it the call would wait for
	// all 8 and this test would hang.
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
	sendTo(t, sfd, addr, payloads(3, 10)...)
	waitQueuedBytes(t, fd, 3*10)
	n, err := Recvmmsg(fd, newBatch(8, 16).msgs, MSG_WAITFORONE, nil)
	if err != nil || n != 3 {
		t.Fatalf("Recvmmsg(MSG_WAITFORONE) = %d, %v; want 3, nil", n, err)
	}
	// And it blocks for the first: a datagram sent later is received.
	sent := sendAsync(sfd, addr, []byte("later"))
	b := newBatch(8, 16)
	n, err = Recvmmsg(fd, b.msgs, MSG_WAITFORONE, nil)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err != nil || n != 1 || string(b.payload(0)) != "later" {
		t.Fatalf("Recvmmsg(MSG_WAITFORONE) = %d, %v, %q", n, err, b.payload(0))
	}
}

func TestRecvmmsgTruncation(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			fd, addr := udpSocket(t, f.af, f.addr, true)
			sfd, _ := udpSocket(t, f.af, f.addr, true)
			big := bytes.Repeat([]byte("0123456789"), 10)
			sendTo(t, sfd, addr, big, big)
			waitQueuedBytes(t, fd, 2*len(big))

			b := newBatch(1, 10)
			n, err := Recvmmsg(fd, b.msgs, 0, nil)
			if err != nil || n != 1 {
				t.Fatalf("Recvmmsg = %d, %v", n, err)
			}
			if b.msgs[0].Hdr.Flags&unix.MSG_TRUNC == 0 || b.msgs[0].Len != 10 {
				t.Errorf("flags %#x len %d; want MSG_TRUNC and 10", b.msgs[0].Hdr.Flags, b.msgs[0].Len)
			}
			if !bytes.Equal(b.payload(0), big[:10]) {
				t.Errorf("payload %q", b.payload(0))
			}
			// With MSG_TRUNC as an input flag Len is the real length.
			b.reset()
			n, err = Recvmmsg(fd, b.msgs, unix.MSG_TRUNC, nil)
			if err != nil || n != 1 || b.msgs[0].Len != 100 {
				t.Fatalf("Recvmmsg(MSG_TRUNC) = %d, %v, Len %d; want 1, nil, 100", n, err, b.msgs[0].Len)
			}
		})
	}
}

func TestBadDescriptors(t *testing.T) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	closed, _ := udpSocket(t, unix.AF_INET, families[0].addr, true)
	unix.Close(closed)
	dst := netip.MustParseAddrPort("127.0.0.1:9")

	for _, c := range []struct {
		name string
		fd   int
		want error
	}{
		{"negative", -1, unix.EBADF},
		{"closed", closed, unix.EBADF},
		{"pipe", p[0], unix.ENOTSOCK},
	} {
		// With a time-out too: a bad descriptor fails at once instead
		// of being polled until the time runs out.
		for _, timeout := range []*unix.Timespec{nil, {Sec: 30}} {
			start := time.Now()
			n, err := Recvmmsg(c.fd, newBatch(2, 16).msgs, unix.MSG_DONTWAIT, timeout)
			if n != 0 {
				t.Errorf("%s: n = %d", c.name, n)
			}
			checkSyscallError(t, err, recvCall(), c.want)
			if e := time.Since(start); e > 10*time.Second {
				t.Errorf("%s: took %v: a bad descriptor must fail at once", c.name, e)
			}
		}
		n, err := Sendmmsg(c.fd, sendHeaders(payloads(2, 4), dst), 0)
		if n != 0 {
			t.Errorf("%s: Sendmmsg n = %d", c.name, n)
		}
		checkSyscallError(t, err, sendCall(), c.want)
	}
}

func TestBadHeadersFaultBeforeData(t *testing.T) {
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sendTo(t, sfd, addr, []byte("keep me"))
	waitQueued(t, fd)

	var buf [8]byte
	for _, c := range []struct {
		name   string
		want   error
		break_ func(h *unix.Msghdr, iov *unix.Iovec)
	}{
		{"nil Iov", unix.EFAULT, func(h *unix.Msghdr, _ *unix.Iovec) { h.Iov = nil }},
		{"nil Name", unix.EFAULT, func(h *unix.Msghdr, _ *unix.Iovec) { h.Name = nil }},
		{"nil Control", unix.EFAULT, func(h *unix.Msghdr, _ *unix.Iovec) { h.SetControllen(64) }},
		{"nil Base", unix.EFAULT, func(_ *unix.Msghdr, iov *unix.Iovec) { iov.Base = nil }},
		{"too many iovecs", unix.EMSGSIZE, func(h *unix.Msghdr, _ *unix.Iovec) { h.SetIovlen(maxIovecs + 1) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The bad header is the last of three: nothing of the
			// batch may be received.
			b := newBatch(3, 16)
			last := len(b.msgs) - 1
			c.break_(&b.msgs[last].Hdr, &b.iovs[last])
			n, err := Recvmmsg(fd, b.msgs, 0, nil)
			if n != 0 {
				t.Fatalf("n = %d, want 0", n)
			}
			checkSyscallError(t, err, recvCall(), c.want)

			sb := sendHeaders([][]byte{buf[:], buf[:], buf[:]}, addr)
			var iov unix.Iovec
			iov.Base = &buf[0]
			iov.SetLen(len(buf))
			sb[last].Hdr.Iov = &iov
			c.break_(&sb[last].Hdr, &iov)
			if n, err := Sendmmsg(sfd, sb, 0); n != 0 {
				t.Fatalf("Sendmmsg n = %d (%v), want 0", n, err)
			} else {
				checkSyscallError(t, err, sendCall(), c.want)
			}
		})
	}
	// The queued datagram survived every refusal, and nothing was sent.
	b := newBatch(4, 16)
	n, err := Recvmmsg(fd, b.msgs, 0, nil)
	if err != nil || n != 1 || string(b.payload(0)) != "keep me" {
		t.Fatalf("after refusals: %d, %v, %q; want 1, nil, \"keep me\"", n, err, b.payload(0))
	}
}

func TestRecvmmsgFlagsSayWhatHappened(t *testing.T) {
	// Hdr.Flags reports what happened to each message and nothing else.
	// FreeBSD copies the call's input flags into msg_flags (sys_recvmsg
	// presets msg_flags to them, soreceive ORs its own bits in), and so
	// did mmsg's own MSG_DONTWAIT (time-out path, MSG_WAITFORONE, the
	// loop's later messages) show up as 0x80; Linux copies
	// MSG_CMSG_CLOEXEC. Only MSG_TRUNC for the cut datagram may remain.
	recvs := []struct {
		name string
		recv func(fd int, msgs []Mmsghdr, flags int) (int, error)
	}{
		{"Recvmmsg", func(fd int, msgs []Mmsghdr, flags int) (int, error) { return Recvmmsg(fd, msgs, flags, nil) }},
		{"Recvmmsg/timeout", func(fd int, msgs []Mmsghdr, flags int) (int, error) {
			return Recvmmsg(fd, msgs, flags, &unix.Timespec{Sec: 30})
		}},
		{"recvLoop", recvLoop},
	}
	for _, r := range recvs {
		for _, flags := range []int{0, unix.MSG_DONTWAIT, MSG_WAITFORONE, unix.MSG_CMSG_CLOEXEC, unix.MSG_TRUNC} {
			t.Run(fmt.Sprintf("%s/%#x", r.name, flags), func(t *testing.T) {
				// A blocking socket: the batch is exactly what is queued.
				fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, false)
				sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, false)
				ps := [][]byte{[]byte("fits"), bytes.Repeat([]byte("x"), 100), []byte("fits too")}
				sendTo(t, sfd, addr, ps...)
				waitQueuedBytes(t, fd, payloadBytes(ps...))
				b := newBatch(3, 64)
				n, err := r.recv(fd, b.msgs, flags)
				if n != 3 || err != nil {
					t.Fatalf("n = %d, err = %v; want 3, nil", n, err)
				}
				for i, want := range []int32{0, unix.MSG_TRUNC, 0} {
					if got := b.msgs[i].Hdr.Flags; got != want {
						t.Errorf("message %d: flags %#x; want %#x", i, got, want)
					}
				}
				wantLen := 64
				if flags&unix.MSG_TRUNC != 0 {
					wantLen = 100 // the real length
				}
				if int(b.msgs[1].Len) != wantLen {
					t.Errorf("cut message: Len %d; want %d", b.msgs[1].Len, wantLen)
				}
			})
		}
	}
	t.Run("MSG_PEEK", func(t *testing.T) {
		fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, true)
		sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, true)
		sendTo(t, sfd, addr, []byte("peek"))
		waitQueued(t, fd)
		for _, flags := range []int{unix.MSG_PEEK, unix.MSG_PEEK | unix.MSG_DONTWAIT} {
			b := newBatch(1, 64)
			if n, err := Recvmmsg(fd, b.msgs, flags, &unix.Timespec{}); n != 1 || err != nil || b.msgs[0].Hdr.Flags != 0 {
				t.Errorf("Recvmmsg(%#x) = %d, %v, flags %#x; want 1, nil, 0", flags, n, err, b.msgs[0].Hdr.Flags)
			}
		}
	})
}

func TestStripEcho(t *testing.T) {
	// The rule behind Hdr.Flags, for any kernel: bits the call passed in
	// are removed, MSG_TRUNC passed in comes back only when the returned
	// length exceeds the buffers.
	var buf [64]byte
	iovs := []unix.Iovec{{Base: &buf[0]}, {Base: &buf[32]}}
	iovs[0].SetLen(32)
	iovs[1].SetLen(32)
	var h Msghdr
	h.Iov = &iovs[0]
	h.SetIovlen(len(iovs))
	const (
		dontwait = unix.MSG_DONTWAIT
		trunc    = unix.MSG_TRUNC
		ctrunc   = unix.MSG_CTRUNC
		peek     = unix.MSG_PEEK
	)
	for _, c := range []struct {
		out, in, echoed, n int
		want               int32
	}{
		{dontwait, dontwait, ^0, 10, 0},                             // FreeBSD's echo of mmsg's own flag
		{dontwait | peek | ctrunc, dontwait | peek, ^0, 10, ctrunc}, // what the kernel added stays
		{trunc, trunc, ^0, 64, 0},                                   // fits exactly: not cut
		{trunc, trunc, ^0, 65, trunc},                               // real length > buffers: cut
		{trunc, 0, ^0, 64, trunc},                                   // not passed in: the kernel's own
		{dontwait, dontwait, 0, 10, dontwait},                       // a kernel that echoes nothing
		{unix.MSG_OOB, unix.MSG_OOB, ^unix.MSG_OOB, 10, unix.MSG_OOB},
	} {
		h.Flags = int32(c.out)
		stripEcho(&h, c.in&c.echoed, c.n)
		if h.Flags != c.want {
			t.Errorf("out %#x in %#x echoed %#x n %d: flags %#x; want %#x", c.out, c.in, c.echoed, c.n, h.Flags, c.want)
		}
	}
}

func TestRecvmmsgPeekRepeats(t *testing.T) {
	// MSG_PEEK leaves the datagram queued, so every entry of a batch gets
	// the same one (the kernels' behaviour, kept on both OSes).
	for _, timeout := range []*unix.Timespec{nil, {Sec: 30}} {
		fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, true)
		sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, true)
		sendTo(t, sfd, addr, []byte("one"), []byte("two"))
		waitQueuedBytes(t, fd, 6)
		b := newBatch(3, 16)
		n, err := Recvmmsg(fd, b.msgs, unix.MSG_PEEK, timeout)
		if n != 3 || err != nil {
			t.Fatalf("Recvmmsg(MSG_PEEK) = %d, %v; want 3, nil", n, err)
		}
		for i := range n {
			if string(b.payload(i)) != "one" {
				t.Errorf("peeked message %d: %q; want \"one\"", i, b.payload(i))
			}
		}
		b.reset()
		if n, err := Recvmmsg(fd, b.msgs, 0, timeout); n != 2 || err != nil || string(b.payload(1)) != "two" {
			t.Fatalf("Recvmmsg = %d, %v; want 2, nil: both still queued", n, err)
		}
	}
}

func TestRecvmmsgStreamEOF(t *testing.T) {
	// A stream or seqpacket socket at end of file makes every receive
	// return 0 bytes: a batch of len(msgs) empty entries, on both OSes.
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_SEQPACKET} {
		fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fds[0])
		unix.Close(fds[1])
		for _, timeout := range []*unix.Timespec{nil, {Sec: 30}} {
			b := newBatch(3, 16)
			for i := range b.msgs {
				b.msgs[i].Hdr.Name, b.msgs[i].Hdr.Namelen = nil, 0
				b.msgs[i].Len = 99
			}
			n, err := Recvmmsg(fds[0], b.msgs, 0, timeout)
			if n != 3 || err != nil {
				t.Fatalf("type %d: Recvmmsg at EOF = %d, %v; want 3, nil", typ, n, err)
			}
			for i := range n {
				if b.msgs[i].Len != 0 {
					t.Errorf("type %d: entry %d: Len %d; want 0", typ, i, b.msgs[i].Len)
				}
			}
		}
	}
}
