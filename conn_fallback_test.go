package mmsg

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// The portable Conn of conn_fallback.go (used on systems other than Linux
// and FreeBSD) is tested here on every system, through *net.UDPConn.

func connFallbackPair(t *testing.T) (r, s *net.UDPConn, fr, fs fallbackConn) {
	t.Helper()
	var cs [2]*net.UDPConn
	var fcs [2]fallbackConn
	for i := range cs {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		cs[i] = c
		if fcs[i], err = newFallbackConn(c); err != nil {
			t.Fatalf("newFallbackConn: %v", err)
		}
	}
	return cs[0], cs[1], fcs[0], fcs[1]
}

func connAddrPort(c *net.UDPConn) netip.AddrPort {
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func TestConnFallbackRoundTrip(t *testing.T) {
	r, s, fr, fs := connFallbackPair(t)
	dst := connAddrPort(r)
	out := []Message{
		{Buffers: [][]byte{[]byte("gat"), []byte(""), []byte("her"), []byte("ed")}, Addr: dst},
		{Buffers: [][]byte{[]byte("single")}, Addr: dst},
		{Addr: dst}, // empty datagram
		{Buffers: [][]byte{[]byte("0123456789ab")}, Addr: dst}, // fills all three buffers
	}
	n, err := fs.writeBatch(out, 0)
	if n != len(out) || err != nil {
		t.Fatalf("writeBatch = %d, %v; want %d, nil", n, err, len(out))
	}
	for i, want := range []int{8, 6, 0, 12} {
		if out[i].N != want {
			t.Errorf("message %d: N = %d, want %d", i, out[i].N, want)
		}
	}

	ms := make([]Message, 3)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 4), make([]byte, 4), make([]byte, 4)}
	}
	ms[1].N = -3
	for i, want := range []string{"gathered", "single", "", "0123456789ab"} {
		n, err := fr.readBatch(ms, 0)
		if n != 1 || err != nil {
			t.Fatalf("readBatch %d = %d, %v; want 1, nil", i, n, err)
		}
		got := append(append(append([]byte{}, ms[0].Buffers[0]...), ms[0].Buffers[1]...), ms[0].Buffers[2]...)
		if got = got[:min(ms[0].N, len(got))]; string(got) != want {
			t.Errorf("datagram %d scattered as %q, want %q", i, got, want)
		}
		if ms[0].Addr != connAddrPort(s) {
			t.Errorf("datagram %d from %v, want %v", i, ms[0].Addr, connAddrPort(s))
		}
		if ms[1].N != -3 {
			t.Fatalf("message beyond n was modified")
		}
	}

	// One buffer: read directly into it.
	if _, err := s.WriteToUDPAddrPort([]byte("direct"), dst); err != nil {
		t.Fatal(err)
	}
	one := []Message{{Buffers: [][]byte{make([]byte, 16)}}}
	if n, err := fr.readBatch(one, 0); n != 1 || err != nil || !bytes.Equal(one[0].Buffers[0][:one[0].N], []byte("direct")) {
		t.Fatalf("readBatch = %d, %v, %q", n, err, one[0].Buffers[0][:one[0].N])
	}
}

func TestConnFallbackErrors(t *testing.T) {
	r, _, fr, fs := connFallbackPair(t)
	ms := []Message{{Buffers: [][]byte{make([]byte, 8)}, Addr: connAddrPort(r)}}
	if n, err := fr.readBatch(ms, 1); n != 0 || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("readBatch with flags = %d, %v; want ErrUnsupported", n, err)
	}
	if n, err := fs.writeBatch(ms, 1); n != 0 || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("writeBatch with flags = %d, %v; want ErrUnsupported", n, err)
	}
	r.SetReadDeadline(time.Now().Add(-time.Second))
	if n, err := fr.readBatch(ms, 0); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("readBatch past the deadline = %d, %v", n, err)
	}
	// An unconnected socket needs a destination: the error is net's,
	// for the first message, after the ones before it.
	two := []Message{ms[0], {Buffers: [][]byte{[]byte("x")}}}
	if n, err := fs.writeBatch(two, 0); n != 1 || err == nil {
		t.Errorf("writeBatch without a destination = %d, %v; want 1 and an error", n, err)
	}
	r.Close()
	if n, err := fr.readBatch(ms, 0); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("readBatch after Close = %d, %v", n, err)
	}
	if _, err := newFallbackConn(r); !errors.Is(err, net.ErrClosed) {
		t.Errorf("newFallbackConn(closed) = %v; want net.ErrClosed", err)
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := newFallbackConn(ln.(*net.TCPListener)); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("newFallbackConn(TCP listener) = %v; want ErrUnsupported", err)
	}
}
