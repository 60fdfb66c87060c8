//go:build linux || freebsd

package mmsg

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// families are the address families every socket test runs on.
var families = []struct {
	name string
	af   int
	addr netip.Addr
}{
	{"IPv4", unix.AF_INET, netip.MustParseAddr("127.0.0.1")},
	{"IPv6", unix.AF_INET6, netip.MustParseAddr("::1")},
}

// underQEMU reports whether the tests run under qemu-user (the CI sets
// MMSG_QEMU=1), which does not emulate everything a kernel does.
func underQEMU() bool { return os.Getenv("MMSG_QEMU") != "" }

// udpSocket opens a UDP socket bound to addr:0 and returns it with its
// address. Blocking sockets are what the raw layer meets outside Go's net.
func udpSocket(t testing.TB, af int, addr netip.Addr, nonblock bool) (int, netip.AddrPort) {
	t.Helper()
	typ := unix.SOCK_DGRAM | unix.SOCK_CLOEXEC
	if nonblock {
		typ |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(af, typ, 0)
	if err != nil {
		if af == unix.AF_INET6 {
			t.Skipf("no IPv6: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(addr, 0))); err != nil {
		if af == unix.AF_INET6 {
			t.Skipf("cannot bind [::1]: %v", err)
		}
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, addrPortOf(sa)
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

func addrPortOf(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// rawAddr decodes the source address the kernel wrote into a header.
func rawAddr(h *unix.Msghdr) netip.AddrPort {
	if h.Name == nil || h.Namelen == 0 {
		return netip.AddrPort{}
	}
	rsa := (*unix.RawSockaddrAny)(unsafe.Pointer(h.Name))
	switch rsa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		port := uint16(p.Port>>8) | uint16(p.Port<<8)
		if bigEndian() {
			port = p.Port
		}
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), port)
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		port := uint16(p.Port>>8) | uint16(p.Port<<8)
		if bigEndian() {
			port = p.Port
		}
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr), port)
	}
	return netip.AddrPort{}
}

func bigEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}

// batch is a set of receive headers with one buffer and one name each.
type batch struct {
	msgs  []Mmsghdr
	bufs  [][]byte
	iovs  []unix.Iovec
	names []unix.RawSockaddrAny
}

func newBatch(n, size int) *batch {
	b := &batch{
		msgs:  make([]Mmsghdr, n),
		bufs:  make([][]byte, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrAny, n),
	}
	for i := range b.msgs {
		b.bufs[i] = make([]byte, size)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
		h := &b.msgs[i].Hdr
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = uint32(unsafe.Sizeof(b.names[i]))
	}
	return b
}

// reset restores the value-result fields the kernel overwrote.
func (b *batch) reset() {
	for i := range b.msgs {
		b.msgs[i].Hdr.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		b.msgs[i].Hdr.Flags = 0
		b.msgs[i].Len = 0
	}
}

func (b *batch) payload(i int) []byte { return b.bufs[i][:min(int(b.msgs[i].Len), len(b.bufs[i]))] }

// sendBatch builds send headers for the payloads, addressed to dst (no
// name when dst is the zero AddrPort).
func sendHeaders(payloads [][]byte, dst netip.AddrPort) []Mmsghdr {
	msgs := make([]Mmsghdr, len(payloads))
	iovs := make([]unix.Iovec, len(payloads))
	var name []byte
	if dst.IsValid() {
		name = rawSockaddr(dst)
	}
	for i, p := range payloads {
		if len(p) > 0 {
			iovs[i].Base = &p[0]
			iovs[i].SetLen(len(p))
		}
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
		if name != nil {
			msgs[i].Hdr.Name = &name[0]
			msgs[i].Hdr.Namelen = uint32(len(name))
		}
	}
	return msgs
}

// rawSockaddr encodes ap as the bytes of a struct sockaddr_in or _in6.
func rawSockaddr(ap netip.AddrPort) []byte {
	port := ap.Port()
	if !bigEndian() {
		port = port>>8 | port<<8
	}
	if ap.Addr().Is4() {
		var rsa unix.RawSockaddrInet4
		setSockaddrLen4(&rsa)
		rsa.Family = unix.AF_INET
		rsa.Port = port
		rsa.Addr = ap.Addr().As4()
		return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(&rsa)), unsafe.Sizeof(rsa)))
	}
	var rsa unix.RawSockaddrInet6
	setSockaddrLen6(&rsa)
	rsa.Family = unix.AF_INET6
	rsa.Port = port
	rsa.Addr = ap.Addr().As16()
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(&rsa)), unsafe.Sizeof(rsa)))
}

// sendTo sends each payload as one datagram with sendto(2), the plain way,
// so that receive tests do not depend on Sendmmsg.
func sendTo(t testing.TB, fd int, dst netip.AddrPort, payloads ...[]byte) {
	t.Helper()
	for _, p := range payloads {
		if err := unix.Sendto(fd, p, 0, sockaddr(dst)); err != nil {
			t.Fatalf("sendto %v: %v", dst, err)
		}
	}
}

// waitQueued blocks until fd has a datagram queued (or fails the test after
// a generous bound), so tests wait on a condition rather than sleeping.
func waitQueued(t testing.TB, fd int) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 10_000)
	if err != nil || n != 1 {
		t.Fatalf("no datagram queued within 10s: n=%d err=%v", n, err)
	}
}

// waitQueuedBytes waits until datagrams with total payload bytes in all
// are queued on the datagram socket fd, or fails the test after a generous
// bound. Tests that send and then expect every datagram to be queued call
// it instead of waitQueued: FreeBSD delivers loopback datagrams
// asynchronously (lo0 hands them to a netisr thread), so the first may be
// queued while the last is still on its way. Linux has delivered a
// loopback datagram before the sending call returns.
//
// Zero-length datagrams carry no bytes and cannot be waited for this way:
// put a non-empty datagram after them (loopback keeps the order).
func waitQueuedBytes(t testing.TB, fd, total int) {
	t.Helper()
	if total == 0 {
		return
	}
	waitQueued(t, fd)
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, ok := queuedPayloadBytes(t, fd)
		if !ok || n >= total {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d bytes queued on fd %d after 20s", n, total, fd)
		}
		time.Sleep(100 * time.Microsecond) // let the netisr thread run
	}
}

// payloadBytes is the sum of the payloads' lengths, for waitQueuedBytes.
func payloadBytes(ps ...[]byte) int {
	total := 0
	for _, p := range ps {
		total += len(p)
	}
	return total
}

// threadCPUTime is the CPU time the calling OS thread has used so far. A
// test that measures a wait locks its goroutine to the thread first.
func threadCPUTime(t testing.TB) time.Duration {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		t.Fatalf("clock_gettime(CLOCK_THREAD_CPUTIME_ID): %v", err)
	}
	return time.Duration(ts.Nano())
}

// payloads returns n distinct payloads of the given sizes (cycled).
func payloads(n int, sizes ...int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		size := sizes[i%len(sizes)]
		p := []byte(fmt.Sprintf("msg-%04d-", i))
		for len(p) < size {
			p = append(p, byte('a'+i%26))
		}
		ps[i] = p[:size]
	}
	return ps
}

// sendAsync sends one datagram from another goroutine; the test reads the
// returned channel to learn that the send succeeded.
func sendAsync(fd int, dst netip.AddrPort, p []byte) <-chan error {
	done := make(chan error, 1)
	go func() { done <- unix.Sendto(fd, p, 0, sockaddr(dst)) }()
	return done
}

func ptr[T any](v T) *T { return &v }

// quietThread locks the calling goroutine to its OS thread and blocks
// there every signal that may come from elsewhere, until the returned
// function undoes both. A blocking wait for the rest of a batch ends at
// a signal by design (the kernel's recvmmsg and recvLoop alike, see
// signalEndsWaitForMore), and Go's runtime sends its own signals
// (SIGURG for preemption, which may land after the goroutine entered the
// system call): a test that measures such a wait (SO_RCVTIMEO, a
// shutdown, a datagram sent later) makes it on a quiet thread. Signals
// aimed at the thread meanwhile wait until it unblocks them.
func quietThread(t testing.TB) (restore func()) {
	t.Helper()
	runtime.LockOSThread()
	var set unix.Sigset_t
	sigsetFill(&set)
	old, err := blockSignals(&set)
	if err != nil {
		// Errorf, not Fatalf: measured calls this on a goroutine of
		// its own.
		runtime.UnlockOSThread()
		t.Errorf("blocking signals: %v", err)
		return func() {}
	}
	return func() {
		if err := setSignalMask(&old); err != nil {
			t.Errorf("restoring the signal mask: %v", err)
			return // leave the thread locked: it dies with the goroutine
		}
		runtime.UnlockOSThread()
	}
}
