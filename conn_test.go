//go:build linux || freebsd

package mmsg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// connFamilies are the loopback families the Conn tests run on.
var connFamilies = []struct {
	name    string
	network string
	addr    netip.Addr
}{
	{"IPv4", "udp4", netip.MustParseAddr("127.0.0.1")},
	{"IPv6", "udp6", netip.MustParseAddr("::1")},
}

// connListen opens a UDP socket on addr:0, skipping the test when the host
// has no such loopback (IPv6 disabled).
func connListen(t testing.TB, network string, addr netip.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		if addr.Is6() {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connAddr is c's local address as package net reports a source address
// on a socket of the same family.
func connAddr(c net.PacketConn) netip.AddrPort {
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if ap.Addr().Is4In6() {
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}

func connNew(t testing.TB, c syscall.Conn) *Conn {
	t.Helper()
	mc, err := NewConn(c)
	if err != nil {
		t.Fatalf("NewConn(%T): %v", c, err)
	}
	return mc
}

// connControl runs fn on the descriptor of c.
func connControl(t testing.TB, c syscall.Conn, fn func(fd int) error) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		t.Fatal(err)
	}
	if ferr != nil {
		t.Fatal(ferr)
	}
}

// connMessages makes n messages, each with the given buffer sizes.
func connMessages(n int, sizes ...int) []Message {
	ms := make([]Message, n)
	for i := range ms {
		for _, s := range sizes {
			ms[i].Buffers = append(ms[i].Buffers, make([]byte, s))
		}
	}
	return ms
}

// connPayload is the payload of datagram i: its index, then filler up to
// size bytes (at least 4).
func connPayload(i, size int) []byte {
	p := make([]byte, max(size, 4))
	binary.BigEndian.PutUint32(p, uint32(i))
	for j := 4; j < len(p); j++ {
		p[j] = byte('a' + (i+j)%26)
	}
	return p
}

// connJoin concatenates the first n bytes of a message's buffers.
func connJoin(m *Message) []byte {
	var b []byte
	for _, buf := range m.Buffers {
		b = append(b, buf...)
	}
	return b[:min(m.N, len(b))]
}

// connReadAll reads with c until want datagrams have arrived, failing the
// test on an error (the read deadline bounds the wait).
func connReadAll(t testing.TB, c *Conn, ms []Message, want int, each func(m *Message)) {
	t.Helper()
	for got := 0; got < want; {
		n, err := c.ReadBatch(ms[:min(len(ms), want-got)], 0)
		if n < 0 || n > len(ms) {
			t.Fatalf("ReadBatch returned n = %d", n)
		}
		for i := range n {
			each(&ms[i])
		}
		got += n
		if err != nil {
			t.Fatalf("ReadBatch after %d of %d datagrams: %v", got, want, err)
		}
	}
}

func TestConnRoundTrip(t *testing.T) {
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			rconn := connListen(t, f.network, f.addr)
			sconn := connListen(t, f.network, f.addr)
			rconn.SetDeadline(time.Now().Add(10 * time.Second))
			r, s := connNew(t, rconn), connNew(t, sconn)

			sizes := []int{1, 100, 1400, 0, 37, 8}
			out := make([]Message, len(sizes))
			var want [][]byte
			for i, size := range sizes {
				p := connPayload(i, size)[:size]
				want = append(want, p)
				out[i].Addr = connAddr(rconn)
				if i%2 == 1 && size > 2 {
					// Gathered from two buffers.
					out[i].Buffers = [][]byte{p[:size/2], p[size/2:]}
				} else {
					out[i].Buffers = [][]byte{p}
				}
			}
			n, err := s.WriteBatch(out, 0)
			if n != len(out) || err != nil {
				t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(out))
			}
			for i := range out {
				if out[i].N != sizes[i] {
					t.Errorf("message %d: N = %d after WriteBatch, want %d", i, out[i].N, sizes[i])
				}
			}

			// Scattered into two buffers; a sentinel after the batch.
			in := connMessages(len(sizes), 8, 2048)
			got := 0
			connReadAll(t, r, in, len(sizes), func(m *Message) {
				if p := connJoin(m); !bytes.Equal(p, want[got]) {
					t.Errorf("datagram %d: %q, want %q", got, p, want[got])
				}
				if m.Addr != connAddr(sconn) {
					t.Errorf("datagram %d: source %v, want %v", got, m.Addr, connAddr(sconn))
				}
				if m.Flags != 0 || m.NN != 0 {
					t.Errorf("datagram %d: Flags %#x NN %d, want 0, 0", got, m.Flags, m.NN)
				}
				got++
			})

			// The source is exactly what net reports for the same sender.
			for range 2 {
				if _, err := sconn.WriteToUDPAddrPort([]byte("x"), connAddr(rconn)); err != nil {
					t.Fatal(err)
				}
			}
			_, _, _, netAddr, err := rconn.ReadMsgUDPAddrPort(make([]byte, 16), nil)
			if err != nil {
				t.Fatal(err)
			}
			connReadAll(t, r, in[:1], 1, func(m *Message) {
				if m.Addr != netAddr {
					t.Errorf("source %v, net.UDPConn.ReadMsgUDPAddrPort gives %v", m.Addr, netAddr)
				}
			})
		})
	}
}

func TestConnConnected(t *testing.T) {
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			rconn := connListen(t, f.network, f.addr)
			rconn.SetDeadline(time.Now().Add(10 * time.Second))
			dconn, err := net.DialUDP(f.network, nil, net.UDPAddrFromAddrPort(connAddr(rconn)))
			if err != nil {
				t.Fatal(err)
			}
			defer dconn.Close()
			d := connNew(t, dconn)
			out := make([]Message, 3)
			for i := range out {
				out[i].Buffers = [][]byte{connPayload(i, 10)} // Addr zero: the peer
			}
			if n, err := d.WriteBatch(out, 0); n != 3 || err != nil {
				t.Fatalf("WriteBatch on a connected socket = %d, %v; want 3, nil", n, err)
			}
			r := connNew(t, rconn)
			got := 0
			connReadAll(t, r, connMessages(4, 64), 3, func(m *Message) {
				if !bytes.Equal(connJoin(m), connPayload(got, 10)) || m.Addr != connAddr(dconn) {
					t.Errorf("datagram %d: %q from %v", got, connJoin(m), m.Addr)
				}
				got++
			})
		})
	}
}

// TestConnDualStack checks an AF_INET6 socket on [::] receiving from and
// sending to 127.0.0.1: v4-mapped addresses exactly as package net gives.
func TestConnDualStack(t *testing.T) {
	dual, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Skipf("cannot bind [::]: %v", err)
	}
	defer dual.Close()
	family := 0
	connControl(t, dual, func(fd int) error {
		sa, err := unix.Getsockname(fd)
		if _, ok := sa.(*unix.SockaddrInet6); ok {
			family = unix.AF_INET6
		}
		return err
	})
	if family != unix.AF_INET6 {
		t.Skip("\"udp\" on [::] is not an IPv6 socket on this host")
	}
	dual.SetDeadline(time.Now().Add(10 * time.Second))
	port := dual.LocalAddr().(*net.UDPAddr).Port
	v4 := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	v4.SetDeadline(time.Now().Add(10 * time.Second))
	for range 2 {
		if _, err := v4.WriteToUDPAddrPort([]byte("ping"), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))); err != nil {
			t.Skipf("[::] socket not reachable over IPv4 (IPV6_V6ONLY?): %v", err)
		}
	}
	_, _, _, netAddr, err := dual.ReadMsgUDPAddrPort(make([]byte, 16), nil)
	if err != nil {
		t.Fatalf("IPv4 datagram to [::] socket: %v", err)
	}
	c := connNew(t, dual)
	want := netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16()), connAddr(v4).Port())
	connReadAll(t, c, connMessages(2, 16), 1, func(m *Message) {
		if m.Addr != netAddr {
			t.Errorf("source %v, net gives %v", m.Addr, netAddr)
		}
		if m.Addr != want || !m.Addr.Addr().Is4In6() {
			t.Errorf("source %v, want the v4-mapped %v", m.Addr, want)
		}
	})

	// An IPv4 destination is sent v4-mapped on the IPv6 socket.
	out := []Message{{Buffers: [][]byte{[]byte("pong")}, Addr: connAddr(v4)}}
	if n, err := c.WriteBatch(out, 0); n != 1 || err != nil {
		t.Fatalf("WriteBatch to %v on [::] = %d, %v", out[0].Addr, n, err)
	}
	buf := make([]byte, 16)
	n, from, err := v4.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "pong" || from.Port() != uint16(port) {
		t.Fatalf("reply: %q from %v, %v", buf[:n], from, err)
	}
}

func TestConnReadDeadline(t *testing.T) {
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			uc := connListen(t, f.network, f.addr)
			c := connNew(t, uc)
			ms := connMessages(4, 64)
			for _, d := range []time.Duration{-time.Second, 20 * time.Millisecond} {
				uc.SetReadDeadline(time.Now().Add(d))
				start := time.Now()
				n, err := c.ReadBatch(ms, 0)
				if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("deadline %v: ReadBatch = %d, %v; want 0 and os.ErrDeadlineExceeded", d, n, err)
				}
				if el := time.Since(start); el > 10*time.Second {
					t.Fatalf("deadline %v: ReadBatch returned after %v", d, el)
				}
			}
			// A datagram after the deadline is cleared is received.
			uc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := uc.WriteToUDPAddrPort([]byte("late"), connAddr(uc)); err != nil {
				t.Fatal(err)
			}
			if n, err := c.ReadBatch(ms, 0); n != 1 || err != nil || string(connJoin(&ms[0])) != "late" {
				t.Fatalf("ReadBatch after the deadline was moved = %d, %v", n, err)
			}
		})
	}
}

// connParked reports whether a goroutine is waiting in the poller inside
// the named function.
func connParked(fn string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[IO wait") && strings.Contains(g, fn) {
			return true
		}
	}
	return false
}

func TestConnCloseUnblocksRead(t *testing.T) {
	uc := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	c := connNew(t, uc)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.ReadBatch(connMessages(8, 64), 0)
		done <- result{n, err}
	}()
	// Wait (boundedly) until the reader is parked on the poller. Close
	// must end the call either way; this makes it the blocked case.
	for start := time.Now(); !connParked("(*Conn).ReadBatch"); time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Log("reader not seen parked in IO wait; closing anyway")
			break
		}
	}
	uc.Close()
	select {
	case r := <-done:
		if r.n != 0 || !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("blocked ReadBatch after Close = %d, %v; want 0 and net.ErrClosed", r.n, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadBatch still blocked 10s after Close")
	}
	// Later calls fail the same way.
	if n, err := c.ReadBatch(connMessages(1, 8), 0); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadBatch on a closed conn = %d, %v", n, err)
	}
	if n, err := c.WriteBatch([]Message{{Addr: connAddr(uc)}}, 0); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteBatch on a closed conn = %d, %v", n, err)
	}
}

func TestConnWriteBatchOver1024(t *testing.T) {
	const count, size = 3000, 32
	rconn := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	sconn := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	// Loopback UDP drops silently when the receive buffer is full: make
	// it large enough for every datagram, as the OS counts them.
	rcvbuf := connRcvbufFor(count, size)
	var rfd int
	connControl(t, rconn, func(fd int) error {
		rfd = fd
		if err := connForceRcvbuf(fd, rcvbuf); err != nil {
			t.Skipf("cannot enlarge the receive buffer to %d bytes (needs root): %v", rcvbuf, err)
		}
		return nil
	})
	s, r := connNew(t, sconn), connNew(t, rconn)

	out := make([]Message, count)
	for i := range out {
		out[i] = Message{Buffers: [][]byte{connPayload(i, size)}, Addr: connAddr(rconn), N: -1}
	}
	dropped := kernelDrops(t, rfd)
	restore := sendOnOneCPU(t) // the order is checked (see sendOnOneCPU)
	n, err := s.WriteBatch(out, 0)
	restore()
	if n != count || err != nil {
		t.Fatalf("WriteBatch(%d) = %d, %v; want %d, nil", count, n, err, count)
	}
	for i := range out {
		if out[i].N != size {
			t.Fatalf("message %d: N = %d, want %d", i, out[i].N, size)
		}
	}
	// Every datagram arrives, in order and once, or the kernel counted
	// its drop (FreeBSD's loopback queue holds 256 packets).
	got, drops := connReadCounted(t, r, rconn, rfd, count, dropped, func(k, id int, m *Message) {
		if !bytes.Equal(connJoin(m), connPayload(id, size)) {
			t.Fatalf("datagram %d: got %q", id, connJoin(m))
		}
	})
	t.Logf("%d datagrams received, %d dropped by the kernel (counted)", got, drops)
}

// connReadCounted reads with r until every one of count datagrams sent to
// rconn (numbered by connPayload, in order) was either received or counted
// as dropped by the kernel (kernelDrops, from dropped on). It fails the
// test on a duplicate, a datagram out of order, or one more than sent;
// each received datagram gets check(k, id, m).
func connReadCounted(t *testing.T, r *Conn, rconn *net.UDPConn, rfd, count int, dropped uint64, check func(k, id int, m *Message)) (got int, drops int) {
	t.Helper()
	ms := connMessages(1024, 64)
	next := 0
	for start := time.Now(); ; {
		drops = int(kernelDrops(t, rfd) - dropped)
		if got+drops >= count {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("after 30s: %d received + %d dropped of %d sent", got, drops, count)
		}
		// A short deadline: the rest may have been dropped meanwhile.
		rconn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := r.ReadBatch(ms, 0)
		for i := range n {
			id := int(binary.BigEndian.Uint32(connJoin(&ms[i])))
			if id < next || id >= count {
				t.Fatalf("datagram %d after %d: a duplicate, out of order, or never sent", id, next-1)
			}
			check(got, id, &ms[i])
			next = id + 1
			got++
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadBatch after %d datagrams: %v", got, err)
		}
	}
	if got+drops != count {
		t.Fatalf("%d received + %d dropped, but %d sent", got, drops, count)
	}
	return got, drops
}

// connUnixPair returns the two ends of an AF_UNIX datagram socketpair as
// net connections. Unlike UDP on loopback, a full receive queue there
// makes the sender wait (EAGAIN) instead of dropping.
func connUnixPair(t *testing.T) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cs [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), fmt.Sprintf("socketpair-%d", i))
		c, err := net.FileConn(f) // dups the descriptor
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs[i] = c.(*net.UnixConn)
	}
	return cs[0], cs[1]
}

func TestConnWriteBatchFullBuffer(t *testing.T) {
	const count, size = 3000, 256
	a, b := connUnixPair(t)
	a.SetDeadline(time.Now().Add(30 * time.Second))
	b.SetDeadline(time.Now().Add(30 * time.Second))
	w, r := connNew(t, a), connNew(t, b)

	out := make([]Message, count)
	for i := range out {
		out[i].Buffers = [][]byte{connPayload(i, size)}
	}
	readErr := make(chan error, 1)
	go func() {
		ms := connMessages(64, size)
		for next := 0; next < count; {
			n, err := r.ReadBatch(ms, 0)
			for i := range n {
				if !bytes.Equal(connJoin(&ms[i]), connPayload(next, size)) {
					readErr <- fmt.Errorf("datagram %d out of order or damaged: %q", next, connJoin(&ms[i])[:8])
					return
				}
				if ms[i].Addr.IsValid() {
					readErr <- fmt.Errorf("datagram %d: Addr %v on an AF_UNIX socket", next, ms[i].Addr)
					return
				}
				next++
			}
			if err != nil {
				readErr <- fmt.Errorf("ReadBatch after %d datagrams: %v", next, err)
				return
			}
		}
		readErr <- nil
	}()
	// The queue holds a few datagrams: WriteBatch must wait for the
	// reader many times over.
	n, err := w.WriteBatch(out, 0)
	if n != count || err != nil {
		t.Fatalf("WriteBatch(%d) through a full queue = %d, %v", count, n, err)
	}
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
}

func TestConnWriteDeadlineFullBuffer(t *testing.T) {
	const count, size = 3000, 256
	a, b := connUnixPair(t)
	w, r := connNew(t, a), connNew(t, b)
	out := make([]Message, count)
	for i := range out {
		out[i] = Message{Buffers: [][]byte{connPayload(i, size)}, N: -1}
	}
	// No reader: the queue fills (it holds far fewer than count) and
	// WriteBatch waits. The deadline is set only once datagrams are
	// queued, so that it ends that wait, after some were sent, on a
	// machine of any speed; set before the call, it could expire before
	// the first one went out (seen under qemu TCG).
	type result struct {
		n   int
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		n, err := w.WriteBatch(out, 0)
		done <- result{n, err, time.Now()}
	}()
	connControl(t, b, func(fd int) error { waitQueued(t, fd); return nil })
	select {
	case res := <-done:
		t.Fatalf("WriteBatch without a reader or a deadline returned %d, %v", res.n, res.err)
	default:
	}
	const d = 50 * time.Millisecond
	set := time.Now()
	a.SetWriteDeadline(set.Add(d))
	var res result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("WriteBatch has not returned 20s after its %v deadline", d)
	}
	n, err := res.n, res.err
	if !errors.Is(err, os.ErrDeadlineExceeded) || n <= 0 || n >= count {
		t.Fatalf("WriteBatch into a full queue = %d, %v; want 0 < n < %d and os.ErrDeadlineExceeded", n, err, count)
	}
	if waited := res.at.Sub(set); waited < d {
		t.Errorf("WriteBatch returned %v after a %v deadline was set", waited, d)
	}
	for i := range out {
		if sent := i < n; sent && out[i].N != size || !sent && out[i].N != -1 {
			t.Fatalf("message %d (n = %d): N = %d", i, n, out[i].N)
		}
	}
	// Exactly n datagrams were sent: the queue holds them, in order.
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := 0
	connReadAll(t, r, connMessages(64, size), n, func(m *Message) {
		if !bytes.Equal(connJoin(m), connPayload(got, size)) {
			t.Fatalf("datagram %d out of order or damaged", got)
		}
		got++
	})
	b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if k, err := r.ReadBatch(connMessages(1, size), 0); k != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after the %d sent datagrams: ReadBatch = %d, %v; want nothing more", n, k, err)
	}
}

func TestConnUnixSocketAddr(t *testing.T) {
	a, _ := connUnixPair(t)
	w := connNew(t, a)
	out := []Message{{Buffers: [][]byte{[]byte("x")}}, {Buffers: [][]byte{[]byte("y")}, Addr: netip.MustParseAddrPort("127.0.0.1:9")}}
	n, err := w.WriteBatch(out, 0)
	if n != 1 || !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Fatalf("WriteBatch with an IP destination on AF_UNIX = %d, %v; want 1, EAFNOSUPPORT", n, err)
	}
}

func TestConnWriteErrors(t *testing.T) {
	rconn := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	rconn.SetDeadline(time.Now().Add(10 * time.Second))
	s := connNew(t, connListen(t, "udp4", netip.MustParseAddr("127.0.0.1")))
	r := connNew(t, rconn)
	dst := connAddr(rconn)
	mapped := netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())

	// A v4-mapped destination is unmapped on an IPv4 socket; an IPv6 one
	// stops the batch with EAFNOSUPPORT, after the messages before it.
	out := []Message{
		{Buffers: [][]byte{[]byte("0")}, Addr: dst},
		{Buffers: [][]byte{[]byte("1")}, Addr: mapped},
		{Buffers: [][]byte{[]byte("2")}, Addr: netip.MustParseAddrPort("[::1]:9"), N: -1},
		{Buffers: [][]byte{[]byte("3")}, Addr: dst, N: -1},
	}
	n, err := s.WriteBatch(out, 0)
	var se *os.SyscallError
	if n != 2 || !errors.As(err, &se) || se.Syscall != sendCall() || !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Fatalf("WriteBatch = %d, %v; want 2 and a sendmmsg EAFNOSUPPORT *os.SyscallError", n, err)
	}
	if out[2].N != -1 || out[3].N != -1 {
		t.Errorf("unsent messages were modified: N = %d, %d", out[2].N, out[3].N)
	}
	got := ""
	connReadAll(t, r, connMessages(4, 8), 2, func(m *Message) { got += string(connJoin(m)) })
	if got != "01" {
		t.Errorf("received %q, want \"01\"", got)
	}

	// Too many buffers: EMSGSIZE for that message, after the others.
	big := Message{Buffers: make([][]byte, maxIovecs+1), Addr: dst}
	n, err = s.WriteBatch([]Message{out[0], big}, 0)
	if n != 1 || !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("WriteBatch with %d buffers = %d, %v; want 1, EMSGSIZE", len(big.Buffers), n, err)
	}
	n, err = r.ReadBatch([]Message{big}, 0)
	if n != 0 || !errors.As(err, &se) || se.Syscall != recvCall() || !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("ReadBatch with %d buffers = %d, %v; want 0 and a recvmmsg EMSGSIZE *os.SyscallError", len(big.Buffers), n, err)
	}
}

// TestConnReadError checks that a socket error is a recvmmsg
// *os.SyscallError: a connected socket whose peer's port is closed.
func TestConnReadError(t *testing.T) {
	_, c := connRefusingPeer(t)
	if n, err := c.WriteBatch([]Message{{Buffers: [][]byte{[]byte("x")}}}, 0); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	n, err := c.ReadBatch(connMessages(2, 8), 0)
	var se *os.SyscallError
	if n != 0 || !errors.As(err, &se) || se.Syscall != recvCall() || !errors.Is(err, unix.ECONNREFUSED) {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Skip("no ICMP port unreachable on this host's loopback")
		}
		t.Fatalf("ReadBatch = %d, %v; want 0 and a recvmmsg ECONNREFUSED *os.SyscallError", n, err)
	}
}

// TestConnReuseMessages reads twice into the same Messages: the second read
// must show its own values, not leftovers of the first.
func TestConnReuseMessages(t *testing.T) {
	rconn := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	rconn.SetDeadline(time.Now().Add(10 * time.Second))
	s1 := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	s2 := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	r := connNew(t, rconn)
	setTimestamp := func(on int) {
		connControl(t, rconn, func(fd int) error {
			return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMP, on)
		})
	}

	ms := connMessages(2, 10)
	ms[0].OOB = make([]byte, 128)
	// A sentinel that must stay untouched. (It has a buffer: qemu-user
	// answers a receive with no iovec with 0 bytes without a system call.)
	ms[1] = Message{Buffers: [][]byte{make([]byte, 4)}, N: -5, NN: -5, Flags: -5}

	// First: truncated, with a timestamp in OOB, from s1.
	setTimestamp(1)
	if _, err := s1.WriteToUDPAddrPort(connPayload(1, 100), connAddr(rconn)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.ReadBatch(ms, 0); n != 1 || err != nil {
		t.Fatalf("first ReadBatch = %d, %v", n, err)
	}
	m := ms[0]
	if m.N != 10 || m.Flags&unix.MSG_TRUNC == 0 || m.NN == 0 || m.Addr != connAddr(s1) {
		t.Fatalf("first read: N %d Flags %#x NN %d Addr %v; want 10, MSG_TRUNC, NN > 0, %v", m.N, m.Flags, m.NN, m.Addr, connAddr(s1))
	}
	if ms[1].N != -5 || ms[1].NN != -5 || ms[1].Flags != -5 || ms[1].Addr.IsValid() {
		t.Fatalf("message beyond n was modified: %+v", ms[1])
	}

	// Second: short, no control data, from s2, into the same Messages.
	setTimestamp(0)
	if _, err := s2.WriteToUDPAddrPort([]byte("hey"), connAddr(rconn)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.ReadBatch(ms, 0); n != 1 || err != nil {
		t.Fatalf("second ReadBatch = %d, %v", n, err)
	}
	m = ms[0]
	if m.N != 3 || m.Flags != 0 || m.NN != 0 || m.Addr != connAddr(s2) || string(connJoin(&m)) != "hey" {
		t.Fatalf("second read: N %d Flags %#x NN %d Addr %v %q; want 3, 0, 0, %v \"hey\"", m.N, m.Flags, m.NN, m.Addr, connJoin(&m), connAddr(s2))
	}

	// Third: control data again; the full OOB length is offered anew.
	setTimestamp(1)
	if _, err := s1.WriteToUDPAddrPort([]byte("again"), connAddr(rconn)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.ReadBatch(ms, 0); n != 1 || err != nil {
		t.Fatalf("third ReadBatch = %d, %v", n, err)
	}
	if m = ms[0]; m.NN == 0 || m.Flags != 0 || m.Addr != connAddr(s1) {
		t.Fatalf("third read: NN %d Flags %#x Addr %v", m.NN, m.Flags, m.Addr)
	}
}

func TestConnTruncation(t *testing.T) {
	rconn := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	rconn.SetDeadline(time.Now().Add(10 * time.Second))
	r := connNew(t, rconn)
	p := connPayload(3, 100)
	for range 2 {
		if _, err := rconn.WriteToUDPAddrPort(p, connAddr(rconn)); err != nil {
			t.Fatal(err)
		}
	}
	ms := connMessages(1, 10)
	if n, err := r.ReadBatch(ms, 0); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if ms[0].N != 10 || ms[0].Flags&unix.MSG_TRUNC == 0 || !bytes.Equal(ms[0].Buffers[0], p[:10]) {
		t.Fatalf("truncated read: N %d Flags %#x %q", ms[0].N, ms[0].Flags, ms[0].Buffers[0])
	}
	if runtime.GOOS == "linux" {
		// MSG_TRUNC in flags: N is the datagram's real length.
		if n, err := r.ReadBatch(ms, unix.MSG_TRUNC); n != 1 || err != nil || ms[0].N != len(p) || ms[0].Flags&unix.MSG_TRUNC == 0 {
			t.Fatalf("ReadBatch(MSG_TRUNC) = %d, %v; N %d Flags %#x; want N %d", n, err, ms[0].N, ms[0].Flags, len(p))
		}
	}
}

func TestConnEmptyBatch(t *testing.T) {
	uc := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	c := connNew(t, uc)
	uc.Close() // any system call would now fail
	if n, err := c.ReadBatch(nil, 0); n != 0 || err != nil {
		t.Errorf("ReadBatch(nil) = %d, %v; want 0, nil", n, err)
	}
	if n, err := c.WriteBatch([]Message{}, 0); n != 0 || err != nil {
		t.Errorf("WriteBatch([]) = %d, %v; want 0, nil", n, err)
	}
}

func TestConnNewConnErrors(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tc, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if c, err := NewConn(tc.(*net.TCPConn)); c != nil || !errors.Is(err, ErrNotDatagram) {
		t.Errorf("NewConn(TCP) = %v, %v; want nil and ErrNotDatagram", c, err)
	}
	if c, err := NewConn(ln.(*net.TCPListener)); c != nil || !errors.Is(err, ErrNotDatagram) {
		t.Errorf("NewConn(TCP listener) = %v, %v; want nil and ErrNotDatagram", c, err)
	}

	uc := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	uc.Close()
	if c, err := NewConn(uc); c != nil || !errors.Is(err, net.ErrClosed) {
		t.Errorf("NewConn(closed UDPConn) = %v, %v; want nil and net.ErrClosed", c, err)
	}
	if c, err := NewConn(nil); c != nil || err == nil {
		t.Errorf("NewConn(nil) = %v, %v; want an error", c, err)
	}
}

func TestConnAllocs(t *testing.T) {
	if connRaceEnabled {
		t.Skip("the race detector makes sync.Pool drop a quarter of what is put back")
	}
	const batch = 4
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			// Raw blocking peers: their plain read(2)/write(2) on a
			// connected socket allocate nothing either.
			cconn := connListen(t, f.network, f.addr)
			cconn.SetDeadline(time.Now().Add(time.Minute))
			c := connNew(t, cconn)
			pfd, paddr := connRawPeer(t, f.addr, connAddr(cconn))

			out := make([]Message, batch)
			for i := range out {
				out[i] = Message{Buffers: [][]byte{connPayload(i, 64)}, Addr: paddr}
			}
			buf := make([]byte, 128)
			var failed error
			allocs := testing.AllocsPerRun(200, func() {
				n, err := c.WriteBatch(out, 0)
				if n != batch || err != nil {
					failed = fmt.Errorf("WriteBatch = %d, %v", n, err)
				}
				for range batch {
					if _, err := unix.Read(pfd, buf); err != nil {
						failed = err
					}
				}
			})
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs != 0 {
				t.Errorf("WriteBatch: %v allocations per call, want 0", allocs)
			}

			in := connMessages(batch, 128)
			in[0].OOB = make([]byte, 64)
			p := connPayload(9, 64)
			allocs = testing.AllocsPerRun(200, func() {
				for range batch {
					if _, err := unix.Write(pfd, p); err != nil {
						failed = err
					}
				}
				for got := 0; got < batch && failed == nil; {
					n, err := c.ReadBatch(in[got:], 0)
					if err != nil {
						failed = fmt.Errorf("ReadBatch = %d, %v", n, err)
					}
					got += n
				}
			})
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs != 0 {
				t.Errorf("ReadBatch: %v allocations per call, want 0", allocs)
			}
			if in[batch-1].Addr != paddr || !bytes.Equal(connJoin(&in[batch-1]), p) {
				t.Errorf("last datagram: %q from %v", connJoin(&in[batch-1]), in[batch-1].Addr)
			}
		})
	}
}

// connRawPeer returns a blocking UDP socket bound to addr:0 and connected
// to dst, and its address.
func connRawPeer(t *testing.T, addr netip.Addr, dst netip.AddrPort) (int, netip.AddrPort) {
	t.Helper()
	af := unix.AF_INET
	toSockaddr := func(ap netip.AddrPort) unix.Sockaddr {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	if addr.Is6() {
		af = unix.AF_INET6
		toSockaddr = func(ap netip.AddrPort) unix.Sockaddr {
			return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
		}
	}
	fd, err := unix.Socket(af, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, toSockaddr(netip.AddrPortFrom(addr, 0))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, toSockaddr(dst)); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return fd, netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return fd, netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	t.Fatalf("getsockname: %T", sa)
	return 0, netip.AddrPort{}
}

// TestConnConcurrent runs 4 readers and 2 writers on one socket pair and
// checks that every datagram is delivered exactly once. The writers send
// in rounds and wait until the readers have counted each round, so that
// the receive buffer never overflows (loopback UDP would drop silently).
func TestConnConcurrent(t *testing.T) {
	const (
		readers, writers = 4, 2
		perRound         = 32 // per writer
		rounds           = 40
		total            = writers * perRound * rounds
	)
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			rconn := connListen(t, f.network, f.addr)
			r := connNew(t, rconn)
			sconn := connListen(t, f.network, f.addr)
			s := connNew(t, sconn)

			var (
				mu       sync.Mutex
				cond     = sync.NewCond(&mu)
				seen     = make(map[uint32]int)
				count    int
				failure  error
				watchdog bool
			)
			fail := func(err error) {
				mu.Lock()
				if failure == nil {
					failure = err
				}
				cond.Broadcast()
				mu.Unlock()
			}
			timer := time.AfterFunc(60*time.Second, func() {
				mu.Lock()
				watchdog = true
				cond.Broadcast()
				mu.Unlock()
			})
			defer timer.Stop()

			var rwg sync.WaitGroup
			for range readers {
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					ms := connMessages(16, 16)
					for {
						n, err := r.ReadBatch(ms, 0)
						mu.Lock()
						for i := range n {
							id := binary.BigEndian.Uint32(connJoin(&ms[i]))
							seen[id]++
							if ms[i].Addr != connAddr(sconn) {
								failure = fmt.Errorf("datagram %#x from %v", id, ms[i].Addr)
							}
						}
						count += n
						cond.Broadcast()
						mu.Unlock()
						if errors.Is(err, net.ErrClosed) {
							return
						}
						if err != nil {
							fail(fmt.Errorf("reader: %v", err))
							return
						}
					}
				}()
			}

			var wwg sync.WaitGroup
			for w := range writers {
				wwg.Add(1)
				go func() {
					defer wwg.Done()
					out := make([]Message, perRound)
					for round := range rounds {
						for i := range out {
							id := uint32(w<<24 | round<<12 | i)
							p := make([]byte, 16)
							binary.BigEndian.PutUint32(p, id)
							out[i] = Message{Buffers: [][]byte{p}, Addr: connAddr(rconn)}
						}
						if n, err := s.WriteBatch(out, 0); n != perRound || err != nil {
							fail(fmt.Errorf("writer %d: WriteBatch = %d, %v", w, n, err))
							return
						}
						// Wait until every writer's round has been read.
						mu.Lock()
						for count < (round+1)*writers*perRound && failure == nil && !watchdog {
							cond.Wait()
						}
						mu.Unlock()
					}
				}()
			}
			wwg.Wait()
			rconn.Close() // ends the readers
			rwg.Wait()

			if watchdog {
				t.Fatalf("received %d of %d datagrams within 60s", count, total)
			}
			if failure != nil {
				t.Fatal(failure)
			}
			if count != total || len(seen) != total {
				t.Fatalf("received %d datagrams, %d distinct; want %d", count, len(seen), total)
			}
			for id, k := range seen {
				if k != 1 {
					t.Errorf("datagram %#x delivered %d times", id, k)
				}
			}
		})
	}
}

// TestConnZones checks the IPv6 scope-ID/zone translation against the
// interface table that package net reports.
func TestConnZones(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		t.Skipf("no interfaces: %v", err)
	}
	ifi := ifs[0]
	var rsa unix.RawSockaddrInet6
	ap := netip.AddrPortFrom(netip.MustParseAddr("::1").WithZone(ifi.Name), 4242)
	l, err := putSockaddr(&rsa, familyIPv6, ap)
	if err != nil || l != unix.SizeofSockaddrInet6 || rsa.Scope_id != uint32(ifi.Index) {
		t.Fatalf("putSockaddr(%v) = %d, %v, scope %d; want scope %d", ap, l, err, rsa.Scope_id, ifi.Index)
	}
	if got := sockaddrToAddrPort(&rsa, l); got != ap {
		t.Errorf("round trip of %v gives %v", ap, got)
	}
	rsa.Scope_id = 1<<31 - 7 // no such interface: the index in decimal
	if got := sockaddrToAddrPort(&rsa, l).Addr().Zone(); got != "2147483641" {
		t.Errorf("zone of an unknown index: %q", got)
	}
	// Also what net parses: a numeric zone is its index.
	ap = netip.AddrPortFrom(netip.MustParseAddr("::1%7"), 1)
	if _, err := putSockaddr(&rsa, familyIPv6, ap); err != nil || rsa.Scope_id != 7 {
		t.Errorf("numeric zone: scope %d, %v", rsa.Scope_id, err)
	}
	// A name that is too short for its family is no address.
	if got := sockaddrToAddrPort(&rsa, 8); got.IsValid() {
		t.Errorf("short name decoded as %v", got)
	}
}

// TestConnErrorsLikeNet: Conn's errors are what *net.UDPConn returns for
// the same failure: a *net.OpError (a net.Error) with Op, Source and Addr,
// wrapping the *os.SyscallError of the batch call, so that errors.Is sees
// the errno, net.ErrClosed and os.ErrDeadlineExceeded. Net is the
// address's network ("udp"): net does not tell which one ("udp4") the
// connection was opened with.
func TestConnErrorsLikeNet(t *testing.T) {
	uc, c := connRefusingPeer(t)

	// What net gives for a read that meets ICMP port unreachable.
	if _, err := uc.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_, netErr := uc.Read(make([]byte, 8))
	var want *net.OpError
	if !errors.As(netErr, &want) || !errors.Is(netErr, unix.ECONNREFUSED) {
		t.Skipf("no ICMP port unreachable on this host's loopback: %v", netErr)
	}

	if n, err := c.WriteBatch([]Message{{Buffers: [][]byte{[]byte("x")}}}, 0); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	_, err := c.ReadBatch(connMessages(2, 8), 0)
	network := uc.LocalAddr().Network()
	checkOpError(t, err, "read", network, want.Source, want.Addr)
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != recvCall() || !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("ReadBatch error %v: want a recvmmsg *os.SyscallError with ECONNREFUSED", err)
	}

	// Deadline: a timeout net.Error; Close: net.ErrClosed, as net has them.
	uc.SetReadDeadline(time.Now().Add(-time.Second))
	_, err = c.ReadBatch(connMessages(1, 8), 0)
	checkOpError(t, err, "read", network, want.Source, want.Addr)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ReadBatch past the deadline: %v; want a timeout net.Error matching os.ErrDeadlineExceeded", err)
	}
	uc.Close()
	for _, call := range []struct {
		op string
		fn func() (int, error)
	}{
		{"read", func() (int, error) { return c.ReadBatch(connMessages(1, 8), 0) }},
		{"write", func() (int, error) { return c.WriteBatch([]Message{{Buffers: [][]byte{[]byte("x")}}}, 0) }},
	} {
		_, err := call.fn()
		checkOpError(t, err, call.op, network, want.Source, want.Addr)
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s after Close: %v; want net.ErrClosed", call.op, err)
		}
	}

	// A write stopped by one message names that message's destination.
	s := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	sc := connNew(t, s)
	v6 := netip.MustParseAddrPort("[::1]:9")
	_, err = sc.WriteBatch([]Message{{Buffers: [][]byte{[]byte("x")}, Addr: v6}}, 0)
	checkOpError(t, err, "write", "udp", s.LocalAddr(), net.UDPAddrFromAddrPort(v6))
	if !errors.Is(err, unix.EAFNOSUPPORT) || !errors.As(err, &se) || se.Syscall != "sendto" {
		t.Errorf("WriteBatch of one message to %v on IPv4: %v; want a sendto EAFNOSUPPORT", v6, err)
	}
}

// connRefusingPeer returns a UDP socket connected to a loopback port
// nobody listens on (each datagram brings back ICMP port unreachable),
// with a deadline, and its Conn.
func connRefusingPeer(t *testing.T) (*net.UDPConn, *Conn) {
	t.Helper()
	closed := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	dst := connAddr(closed)
	closed.Close()
	uc, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	uc.SetDeadline(time.Now().Add(10 * time.Second))
	return uc, connNew(t, uc)
}

// checkOpError checks that err is a *net.OpError (and a net.Error) with
// the given fields.
func checkOpError(t *testing.T, err error, op, network string, source, addr net.Addr) {
	t.Helper()
	var oe *net.OpError
	var ne net.Error
	if !errors.As(err, &oe) || !errors.As(err, &ne) {
		t.Errorf("error %v (%T): want a *net.OpError", err, err)
		return
	}
	str := func(a net.Addr) string {
		if a == nil {
			return ""
		}
		return a.String()
	}
	if oe.Op != op || oe.Net != network || str(oe.Source) != str(source) || str(oe.Addr) != str(addr) {
		t.Errorf("OpError{Op: %q, Net: %q, Source: %v, Addr: %v}; want {%q, %q, %v, %v}",
			oe.Op, oe.Net, oe.Source, oe.Addr, op, network, source, addr)
	}
}

// TestConnBlockingDescriptor: a descriptor in blocking mode must not make
// ReadBatch wait for a whole batch. Go puts a *net.UDPConn's socket in
// blocking mode when File's result has Fd called (os.File.Fd says so);
// the poller still waits on it, so ReadBatch must return what is queued
// and park its goroutine, not its thread, when nothing is.
func TestConnBlockingDescriptor(t *testing.T) {
	uc := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	f, err := uc.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Fd() // the shared socket is blocking from here on
	nonblock := true
	connControl(t, uc, func(fd int) error {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		nonblock = fl&unix.O_NONBLOCK != 0
		return err
	})
	if nonblock {
		t.Skip("File+Fd left the socket non-blocking on this Go version")
	}
	c := connNew(t, uc)
	connBlockingRead(t, c, uc, connAddr(uc), func() bool { return connParked("(*Conn).ReadBatch") })
}

// TestConnBlockingFile: an *os.File over a blocking datagram socket, which
// the poller cannot wait on: ReadBatch returns what is queued without
// waiting for a whole batch (its thread blocks in the kernel only while
// nothing is queued), and WriteBatch sends.
func TestConnBlockingFile(t *testing.T) {
	fd, addr := udpSocket(t, unix.AF_INET, netip.MustParseAddr("127.0.0.1"), false)
	dup, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(dup), "blocking-udp")
	defer f.Close()
	c := connNew(t, f)
	peer := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	peer.SetDeadline(time.Now().Add(10 * time.Second))
	connBlockingRead(t, c, peer, addr, nil)

	out := []Message{{Buffers: [][]byte{[]byte("one")}, Addr: connAddr(peer)}, {Buffers: [][]byte{[]byte("two")}, Addr: connAddr(peer)}}
	if n, err := c.WriteBatch(out, 0); n != 2 || err != nil {
		t.Fatalf("WriteBatch on a blocking file = %d, %v", n, err)
	}
	buf := make([]byte, 8)
	for _, want := range []string{"one", "two"} {
		n, err := peer.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("peer read %q, %v; want %q", buf[:n], err, want)
		}
	}
}

// connBlockingRead sends 3 datagrams from sender to dst, which c reads:
// one ReadBatch of 8 must return all 3 (and not wait for 5 more); then a
// ReadBatch with nothing queued waits until parked() (if not nil) holds
// and returns the datagram sent after that.
func connBlockingRead(t *testing.T, c *Conn, sender *net.UDPConn, dst netip.AddrPort, parked func() bool) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	ms := connMessages(8, 16)
	read := func() <-chan result {
		done := make(chan result, 1)
		go func() {
			n, err := c.ReadBatch(ms, 0)
			done <- result{n, err}
		}()
		return done
	}
	restore := sendOnOneCPU(t)
	for i := range 3 {
		if _, err := sender.WriteToUDPAddrPort(connPayload(i, 8), dst); err != nil {
			restore()
			t.Fatal(err)
		}
	}
	loopbackDelivered(t) // all 3 are queued, not still in the backlog
	restore()
	waitConnQueuedBytes(t, c, 3*8)
	select {
	case r := <-read():
		if r.n != 3 || r.err != nil {
			t.Fatalf("ReadBatch(8) with 3 queued = %d, %v; want 3, nil", r.n, r.err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the reader before failing: it waits for 5 more.
		for i := range 5 {
			sender.WriteToUDPAddrPort(connPayload(i, 8), dst)
		}
		t.Fatal("ReadBatch(8) with 3 datagrams queued waited for a full batch")
	}
	done := read()
	if parked != nil {
		for start := time.Now(); !parked(); time.Sleep(time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatal("ReadBatch with nothing queued is not parked on the poller")
			}
		}
	}
	if _, err := sender.WriteToUDPAddrPort([]byte("late"), dst); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.n != 1 || r.err != nil || string(connJoin(&ms[0])) != "late" {
			t.Fatalf("ReadBatch after waiting = %d, %v, %q", r.n, r.err, connJoin(&ms[0]))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadBatch did not return the datagram sent while it waited")
	}
}

// waitConnQueuedBytes waits until c's socket has n bytes of datagrams
// queued (loopback delivery is asynchronous on FreeBSD).
func waitConnQueuedBytes(t *testing.T, c *Conn, n int) {
	t.Helper()
	var fd int
	c.rc.Control(func(s uintptr) { fd = int(s) })
	waitQueuedBytes(t, fd, n)
}

// TestConnClosedFile: a Conn over an *os.File reports a closed file as
// net.ErrClosed, from NewConn, ReadBatch and WriteBatch, as for a closed
// *net.UDPConn (the file's RawConn says "use of closed file", which
// matches neither net.ErrClosed nor os.ErrClosed).
func TestConnClosedFile(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		t.Run(fmt.Sprintf("blocking=%v", blocking), func(t *testing.T) {
			fd, addr := udpSocket(t, unix.AF_INET, netip.MustParseAddr("127.0.0.1"), !blocking)
			dup, err := unix.Dup(fd)
			if err != nil {
				t.Fatal(err)
			}
			f := os.NewFile(uintptr(dup), "udp")
			c := connNew(t, f)
			f.Close()
			if _, err := NewConn(f); !errors.Is(err, net.ErrClosed) {
				t.Errorf("NewConn(closed file) = %v; want net.ErrClosed", err)
			}
			if n, err := c.ReadBatch(connMessages(1, 8), 0); n != 0 || !errors.Is(err, net.ErrClosed) {
				t.Errorf("ReadBatch on a closed file = %d, %v; want net.ErrClosed", n, err)
			}
			if n, err := c.WriteBatch([]Message{{Buffers: [][]byte{[]byte("x")}, Addr: addr}}, 0); n != 0 || !errors.Is(err, net.ErrClosed) {
				t.Errorf("WriteBatch on a closed file = %d, %v; want net.ErrClosed", n, err)
			}
		})
	}
}

// TestConnAllocsOneMessage: the one-message calls a consumer writes, with
// the []Message (and its Buffers) as a slice literal on the stack, allocate
// nothing, IPv4 and IPv6, with and without OOB.
func TestConnAllocsOneMessage(t *testing.T) {
	if connRaceEnabled {
		t.Skip("the race detector makes sync.Pool drop a quarter of what is put back")
	}
	for _, f := range connFamilies {
		for _, withOOB := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/oob=%v", f.name, withOOB), func(t *testing.T) {
				uc := connListen(t, f.network, f.addr)
				uc.SetDeadline(time.Now().Add(time.Minute))
				c := connNew(t, uc)
				dst := connAddr(uc) // to itself
				payload := connPayload(1, 64)
				buf := make([]byte, 128)
				var oob, rxoob []byte
				if withOOB {
					skipIfQEMUSwapsCmsg(t)
					oob = AppendTOS(nil, dst.Addr(), ECNECT0)
					rxoob = make([]byte, 64)
				}
				var failed error
				allocs := testing.AllocsPerRun(200, func() {
					if n, err := c.WriteBatch([]Message{{Buffers: [][]byte{payload}, OOB: oob, Addr: dst}}, 0); n != 1 || err != nil {
						failed = fmt.Errorf("WriteBatch = %d, %v", n, err)
					}
					ms := []Message{{Buffers: [][]byte{buf}, OOB: rxoob}}
					if n, err := c.ReadBatch(ms, 0); n != 1 || err != nil || ms[0].N != len(payload) {
						failed = fmt.Errorf("ReadBatch = %d, %v, N %d", n, err, ms[0].N)
					}
				})
				if failed != nil {
					t.Fatal(failed)
				}
				if allocs != 0 {
					t.Errorf("one-message WriteBatch + ReadBatch with stack literals: %v allocations per call, want 0", allocs)
				}
			})
		}
	}
}

// TestConnWriteBatchRefusedPeer: to a connected peer that is gone, each
// datagram brings back an ICMP port unreachable, which the kernel keeps
// as the socket's pending error, and the next send takes it. Linux's
// sendmmsg then counts the datagrams before the one that took it and
// drops the error: WriteBatch hands every message to the kernel (one
// sendmmsg per message: strace -c shows 10 here) and returns (len, nil);
// the error of the last one is reported by the next call. FreeBSD's
// sendmsg loop (and Linux's ENOSYS fallback) returns it with the count,
// or, as FreeBSD's reports arrive later (netisr) and are rate-limited
// (net.inet.icmp.icmplim), the next call does: never dropped.
func TestConnWriteBatchRefusedPeer(t *testing.T) {
	uc, c := connRefusingPeer(t)
	out := make([]Message, 10)
	write := func() (int, error) {
		for i := range out {
			out[i] = Message{Buffers: [][]byte{connPayload(i, 8)}, N: -1}
		}
		return c.WriteBatch(out, 0)
	}
	if !asyncSendErrorReported {
		if n, err := write(); n != len(out) || err != nil {
			t.Fatalf("WriteBatch to a refusing peer = %d, %v; want %d, nil (sendmmsg drops the error)", n, err, len(out))
		}
		if _, err := c.ReadBatch(connMessages(1, 8), 0); !errors.Is(err, unix.ECONNREFUSED) {
			t.Errorf("the call after WriteBatch: %v; want ECONNREFUSED", err)
		}
		return
	}
	var fd int
	connControl(t, uc, func(s int) error { fd = s; return nil })
	for tries := 0; tries < 50; tries++ {
		n, err := write()
		if err != nil {
			if n >= len(out) || !errors.Is(err, unix.ECONNREFUSED) || out[n].N != -1 {
				t.Fatalf("WriteBatch to a refusing peer = %d, %v; want n < %d, ECONNREFUSED for the unsent ms[n]", n, err, len(out))
			}
			return
		}
		if n != len(out) {
			t.Fatalf("WriteBatch = %d, nil; want %d", n, len(out))
		}
		// A report that came after the batch: the next call gets it.
		if k, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 200); k == 1 {
			if n, err := write(); n != 0 || !errors.Is(err, unix.ECONNREFUSED) {
				t.Fatalf("WriteBatch with a report pending = %d, %v; want 0, ECONNREFUSED", n, err)
			}
			return
		}
	}
	t.Fatal("no ICMP report after 50 batches")
}
