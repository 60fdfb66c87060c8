package mmsg

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The GSO tests that need the kernel's own GSO (Linux 4.18+).

// TestGSOInvalidMessage: a GSO message the kernel refuses for a reason
// of its own, EINVAL, is that message's error: WriteBatch stops there, N
// of the failed message is untouched, and GSO stays on for the next one.
// Two real refusals: a socket without UDP checksums (SO_NO_CHECK, which
// GSO needs) and a malformed IP_TOS control message.
func TestGSOInvalidMessage(t *testing.T) {
	if !gsoKernel(t) {
		t.Skip("no kernel GSO here: messages are split, the kernel never sees UDP_SEGMENT")
	}
	_, s, rconn, sconn := ctlPair(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	next := 0
	bad := func(oob []byte) []byte {
		oob, data := appendCmsg(oob, unix.IPPROTO_IP, unix.IP_TOS, 3)
		copy(data, "bad")
		return oob
	}
	ms, _ := gsoBuild([]gsoPlan{{0, 100, 1}, {100, 300, 1}, {0, 100, 1}}, connAddr(rconn), &next, nil)
	ms[1].OOB = bad(ms[1].OOB)
	ms[1].N, ms[2].N = -1, -1
	n, err := s.WriteBatch(ms, 0)
	if n != 1 || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("WriteBatch = %d, %v; want 1, EINVAL", n, err)
	}
	if ms[1].N != -1 || ms[2].N != -1 {
		t.Errorf("unsent messages modified: N = %d, %d", ms[1].N, ms[2].N)
	}
	if !s.GSO().Offload {
		t.Errorf("GSO turned off for an error that was not GSO's: %+v", s.GSO())
	}

	connControl(t, sconn, func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1) })
	ms, _ = gsoBuild([]gsoPlan{{1200, 3000, 1}}, connAddr(rconn), &next, nil)
	if n, err := s.WriteBatch(ms, 0); n != 0 || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("GSO without UDP checksums: WriteBatch = %d, %v; want 0, EINVAL", n, err)
	}
	if !s.GSO().Offload {
		t.Errorf("GSO turned off by one socket's EINVAL: %+v", s.GSO())
	}
	connControl(t, sconn, func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 0) })
	if n, err := s.WriteBatch(ms, 0); n != 1 || err != nil {
		t.Fatalf("the next valid GSO message: WriteBatch = %d, %v", n, err)
	}
}

// gsoKernel reports whether this kernel segments UDP_SEGMENT messages.
func gsoKernel(t *testing.T) bool {
	c := connNew(t, connListen(t, "udp4", netip.MustParseAddr("127.0.0.1")))
	return c.GSO().Offload
}

// TestGSOLearnsSegmentLimit: a kernel that refuses a GSO datagram of more
// segments than its UDP_MAX_SEGMENTS (EINVAL) teaches the Conn to send at
// most 64. A Conn told to try 200, more than any kernel takes, meets that
// real refusal on every kernel.
func TestGSOLearnsSegmentLimit(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	if !gsoKernel(t) {
		t.Skip("no kernel GSO here")
	}
	r, s, rconn, _ := ctlPair(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	if !ctlRcvbuf(t, rconn, 16<<20) {
		t.Skip("needs a receive buffer past net.core.rmem_max (root)")
	}
	s.gso.update(func(info *GSOInfo) { info.MaxSegments = 200 })
	next := 0
	ms, want := gsoBuild([]gsoPlan{{0, 10, 1}, {100, 100 * 300, 2}}, connAddr(rconn), &next, nil)
	if n, err := s.WriteBatch(ms, 0); n != 2 || err != nil || ms[1].N != 30000 {
		t.Fatalf("WriteBatch = %d, %v; N = %d", n, err, ms[1].N)
	}
	if info := s.GSO(); !info.Offload || info.MaxSegments != gsoSafeSegments {
		t.Fatalf("GSO() = %+v; want GSO on with MaxSegments %d", info, gsoSafeSegments)
	}
	gsoReceive(t, r, want, nil)
	gsoNothingMore(t, r, rconn)
}

// TestGSORefusedEIO makes the kernel refuse GSO for real with EIO, the
// refusal of a device or path that cannot segment: a UDP-Lite socket
// (udp_send_skb answers EIO for UDP-Lite, as for IPsec paths), on
// loopback, where plain datagrams go through. WriteBatch must send those
// messages one datagram per segment, lose nothing, send nothing twice,
// keep the messages' other control messages, and turn GSO off with EIO
// as the reason; SetGSO(true) tries GSO again.
func TestGSORefusedEIO(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			rconn := gsoUDPLite(t, f.addr) // UDP-Lite arrives at UDP-Lite sockets only
			rconn.SetDeadline(time.Now().Add(30 * time.Second))
			r := connNew(t, rconn)
			sconn := gsoUDPLite(t, f.addr)
			s := connNew(t, sconn)
			if !s.GSO().Offload {
				t.Skipf("no kernel GSO: %v", s.GSO().Reason)
			}
			if err := r.SetReceiveTOS(true); err != nil {
				t.Fatal(err)
			}
			ctlRcvbuf(t, rconn, 16<<20)
			dst := connAddr(rconn)
			tos := byte(0x20 | ECNECT1)
			withTOS := func(oob []byte) []byte { return AppendTOS(oob, dst.Addr(), tos) }
			plans := []gsoPlan{{0, 300, 1}, {1200, 3500, 1}, {0, 10, 1}, {1000, 5000, 2}, {1200, 1200, 1}, {500, 0, 1}}
			next := 0
			for round := range 3 {
				if round == 2 {
					if err := s.SetGSO(true); err != nil {
						t.Fatalf("SetGSO(true): %v", err)
					}
				}
				ms, want := gsoBuild(plans, dst, &next, withTOS)
				n, err := s.WriteBatch(ms, 0)
				if n != len(ms) || err != nil {
					t.Fatalf("round %d: WriteBatch = %d, %v", round, n, err)
				}
				for j, m := range ms {
					if m.N != plans[j].total {
						t.Errorf("round %d, message %d: N = %d, want %d", round, j, m.N, plans[j].total)
					}
				}
				info := s.GSO()
				if info.Offload || !errors.Is(info.Reason, unix.EIO) {
					t.Fatalf("round %d: GSO() = %+v after the kernel refused GSO with EIO", round, info)
				}
				gsoReceive(t, r, want, func(c *Control) {
					if !c.HasTOS || c.TOS != tos {
						t.Fatalf("TOS %#x (%v), want %#x: the other control messages were lost", c.TOS, c.HasTOS, tos)
					}
				})
				gsoNothingMore(t, r, rconn)
			}
		})
	}
}

// gsoUDPLite returns a UDP-Lite socket on addr as a *net.UDPConn, or
// skips the test where the kernel has no UDP-Lite.
func gsoUDPLite(t *testing.T, addr netip.Addr) *net.UDPConn {
	t.Helper()
	af := unix.AF_INET
	if addr.Is6() {
		af = unix.AF_INET6
	}
	fd, err := unix.Socket(af, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_UDPLITE)
	if err != nil {
		t.Skipf("no UDP-Lite: %v", err)
	}
	if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(addr, 0))); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "udplite")
	c, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// TestGSOManySegments: messages with more segments than one GSO datagram
// may carry (MaxSegments, 65507 bytes) are cut into several, all sent by
// the kernel's GSO, which stays on: 2000 one-byte segments take 16 GSO
// datagrams, and with the cut across two packings of MaxSendBatch.
func TestGSOManySegments(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			defer sendOnOneCPU(t)() // the order is checked (see sendOnOneCPU)
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			if !ctlRcvbuf(t, rconn, 16<<20) {
				t.Skip("needs a receive buffer past net.core.rmem_max (root)")
			}
			next := 0
			ms, want := gsoBuild([]gsoPlan{{1, 2000, 3}, {1200, 2500, 1}, {1000, 1000 * 130, 4}}, connAddr(rconn), &next, nil)
			n, err := s.WriteBatch(ms, 0)
			if n != 3 || err != nil || ms[0].N != 2000 || ms[1].N != 2500 || ms[2].N != 130000 {
				t.Fatalf("WriteBatch = %d, %v; N = %d, %d, %d", n, err, ms[0].N, ms[1].N, ms[2].N)
			}
			info := s.GSO()
			if info.Offload != (info.Reason == nil) {
				t.Fatalf("GSO() = %+v", info)
			}
			gsoReceive(t, r, want, nil)
			gsoNothingMore(t, r, rconn)
		})
	}
}

// TestGSOLoopbackGRO shows what a socket with UDP_GRO on receives from
// one GSO message (3500 bytes in 1200-byte segments) over loopback, on
// the kernel it runs on. Where lo carries UDP GSO datagrams whole
// (tx-udp-segmentation: Linux 5.11+), the GSO datagram arrives whole:
// one buffer of 3500 bytes, SegmentSize 1200. On Linux 5.10 lo lacks the
// feature, the transmit path segments the datagram in software before lo
// (validate_xmit_skb, net/core/dev.c), and lo has no GRO of its own: three
// plain datagrams of 1200, 1200 and 1100 bytes arrive, in order, with no
// UDP_GRO control message (SegmentSize 0). Both are asserted exactly, and
// the feature against the kernel's version: 5.10's lo cannot have it.
func TestGSOLoopbackGRO(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	if !gsoKernel(t) {
		t.Skip("no kernel GSO here")
	}
	major, minor, release := kernelRelease(t)
	whole := loopbackSegmentsUDP(t)
	before511 := major < 5 || major == 5 && minor < 11
	switch {
	case before511 && whole:
		t.Fatalf("Linux %s: lo carries UDP GSO datagrams whole, which only 5.11 made possible", release)
	case !before511 && !whole:
		t.Logf("Linux %s: tx-udp-segmentation is off on lo (turned off with ethtool -K?)", release)
	}
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			if err := r.SetGRO(true); err != nil {
				t.Skipf("no UDP_GRO (Linux 5.0+): %v", err)
			}
			next := 0
			ms, want := gsoBuild([]gsoPlan{{1200, 3500, 1}}, connAddr(rconn), &next, nil)
			if n, err := s.WriteBatch(ms, 0); n != 1 || err != nil || ms[0].N != 3500 {
				t.Fatalf("WriteBatch = %d, %v, N = %d", n, err, ms[0].N)
			}
			// Every datagram, in order, byte for byte, and how they came.
			got := gsoReceiveBuffers(t, r, want, nil)
			var wantBufs []gsoBuffer
			if whole {
				wantBufs = []gsoBuffer{{1200, 3500}}
			}
			if fmt.Sprint(got) != fmt.Sprint(wantBufs) {
				t.Fatalf("Linux %s: coalesced buffers {segment size, length} %v; want %v", release, got, wantBufs)
			}
			gsoNothingMore(t, r, rconn)
			t.Logf("Linux %s: lo carries GSO datagrams whole: %v; received %d datagrams in %d coalesced buffers", release, whole, len(want), len(got))
		})
	}
}

// TestGSOMaxSegmentsGRO: with SetMaxSegments(cap), a message of 128
// segments leaves as GSO datagrams of at most cap segments, which a GRO
// receiver on loopback gets as buffers of at most cap segments (the
// kernel hands a GSO datagram to a GRO socket whole), with every byte in
// order. Without a cap the same message arrives as one buffer of 128
// segments, which shows that the test can see the cut.
func TestGSOMaxSegmentsGRO(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			if !s.GSO().Offload {
				t.Skipf("no kernel GSO: %v", s.GSO().Reason)
			}
			if err := r.SetGRO(true); err != nil {
				t.Skipf("no GRO: %v", err)
			}
			ctlRcvbuf(t, rconn, 4<<20)
			const segs, size = 128, 500 // 64000 bytes: one GSO datagram's worth
			next := 0
			for _, limit := range []int{0, 64, 50, 1} {
				if limit > 0 {
					if err := s.SetMaxSegments(limit); err != nil {
						t.Fatal(err)
					}
				}
				want := min(s.GSO().MaxSegments, segs)
				if limit > 0 && want != limit {
					t.Fatalf("cap %d: GSO().MaxSegments = %d", limit, s.GSO().MaxSegments)
				}
				ms, dgrams := gsoBuild([]gsoPlan{{size, segs * size, 3}}, connAddr(rconn), &next, nil)
				if n, err := s.WriteBatch(ms, 0); n != 1 || err != nil || ms[0].N != segs*size {
					t.Fatalf("cap %d: WriteBatch = %d, %v; N = %d", limit, n, err, ms[0].N)
				}
				most, buffers := gsoReceiveSegments(t, r, dgrams)
				t.Logf("cap %d: %d datagrams in %d buffers, at most %d segments each", limit, segs, buffers, most)
				if most > want {
					t.Fatalf("cap %d: a buffer of %d segments arrived, want at most %d", limit, most, want)
				}
				if limit == 0 && s.GSO().MaxSegments == segs && most != segs && buffers != segs {
					// Coalesced, but not whole: the cut could not be seen.
					t.Fatalf("no cap: the largest buffer had %d segments, want the whole %d", most, segs)
				}
			}
			gsoNothingMore(t, r, rconn)
		})
	}
}

// gsoReceiveSegments reads the datagrams want with r, checking each, and
// returns the most segments one buffer held and how many buffers came.
func gsoReceiveSegments(t *testing.T, r *Conn, want [][]byte) (most, buffers int) {
	t.Helper()
	ms := NewMessages(8, GROBufferSize, r.OOBSize())
	var ctl Control
	for k := 0; k < len(want); {
		n, err := r.ReadBatch(ms, 0)
		if err != nil {
			t.Fatalf("ReadBatch after %d of %d datagrams: %v", k, len(want), err)
		}
		for i := range ms[:n] {
			m := &ms[i]
			if err := m.Control(&ctl); err != nil {
				t.Fatal(err)
			}
			if m.Flags&unix.MSG_TRUNC != 0 {
				t.Fatalf("buffer of %d bytes truncated", m.N)
			}
			buffers++
			segs := 0
			for seg := range Segments(m.Buffers[0][:m.N], ctl.SegmentSize) {
				if k >= len(want) || !bytes.Equal(seg, want[k]) {
					t.Fatalf("datagram %d: %d bytes, not the one expected", k, len(seg))
				}
				k++
				segs++
			}
			most = max(most, segs)
		}
	}
	return most, buffers
}
