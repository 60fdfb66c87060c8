//go:build linux || freebsd

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

// The GSO tests: messages with UDP_SEGMENT (AppendSegmentSize) sent by the
// kernel's GSO where it has one (Linux), split by WriteBatch where it has
// not (FreeBSD, old kernels, refusals), and received with GRO where the
// kernel has it. Every datagram is checked byte for byte.

// gsoDatagram is the payload of datagram i of a GSO test: its index, then
// filler that depends on it.
func gsoDatagram(i, size int) []byte {
	p := make([]byte, size)
	for j := range p {
		p[j] = byte(i*7 + j*13 + j>>8)
	}
	if size >= 4 {
		p[0], p[1], p[2], p[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	}
	return p
}

// gsoPlan is one message of a GSO test: total payload bytes cut into
// datagrams of seg bytes (0: a plain message), in nbufs Buffers.
type gsoPlan struct{ seg, total, nbufs int }

// gsoBuild makes the messages of plans, to dst, numbering datagrams from
// *next; it returns them and the datagrams they must arrive as.
func gsoBuild(plans []gsoPlan, dst netip.AddrPort, next *int, extraOOB func([]byte) []byte) ([]Message, [][]byte) {
	var ms []Message
	var want [][]byte
	for _, p := range plans {
		var payload []byte
		seg := p.seg
		if seg == 0 {
			seg = max(p.total, 1)
		}
		for off := 0; off < p.total || off == 0; off += seg {
			d := gsoDatagram(*next, min(seg, p.total-off))
			*next++
			want = append(want, d)
			payload = append(payload, d...)
			if p.total == 0 {
				break
			}
		}
		m := Message{Addr: dst}
		// Cut the payload into nbufs uneven buffers.
		rest := payload
		for i := p.nbufs; i > 1; i-- {
			k := min(len(rest), len(rest)/i+7)
			m.Buffers = append(m.Buffers, rest[:k])
			rest = rest[k:]
		}
		m.Buffers = append(m.Buffers, rest)
		if p.seg > 0 {
			m.OOB = AppendSegmentSize(nil, uint16(p.seg))
		}
		if extraOOB != nil {
			m.OOB = extraOOB(m.OOB)
		}
		ms = append(ms, m)
	}
	return ms, want
}

// gsoReceive reads datagrams with r until want have arrived, walking
// coalesced buffers, and checks every byte; each gets check(ctl) if not
// nil. It returns how many buffers were coalesced.
func gsoReceive(t *testing.T, r *Conn, want [][]byte, check func(*Control)) (coalesced int) {
	t.Helper()
	return len(gsoReceiveBuffers(t, r, want, check))
}

// gsoBuffer is one coalesced buffer: its segment size and length.
type gsoBuffer struct{ size, len int }

// gsoReceiveBuffers is gsoReceive, returning the coalesced buffers in the
// order they arrived.
func gsoReceiveBuffers(t *testing.T, r *Conn, want [][]byte, check func(*Control)) (coalesced []gsoBuffer) {
	t.Helper()
	ms := NewMessages(8, GROBufferSize, max(r.OOBSize(), 64))
	k := 0
	var ctl Control
	for k < len(want) {
		n, err := r.ReadBatch(ms, 0)
		for i := range n {
			m := &ms[i]
			if err := m.Control(&ctl); err != nil {
				t.Fatalf("Control: %v", err)
			}
			if m.Flags&unix.MSG_TRUNC != 0 {
				t.Fatalf("datagram truncated: %d bytes", m.N)
			}
			if ctl.SegmentSize > 0 {
				coalesced = append(coalesced, gsoBuffer{ctl.SegmentSize, m.N})
				ctlCapture(t, "gro", m.OOB[:m.NN])
			}
			segs := Segments(m.Buffers[0][:m.N], ctl.SegmentSize)
			if m.N == 0 {
				segs = func(yield func([]byte) bool) { yield(nil) } // an empty datagram
			}
			for seg := range segs {
				if k >= len(want) {
					t.Fatalf("datagram %d (%d bytes) past the %d expected", k, len(seg), len(want))
				}
				if !bytes.Equal(seg, want[k]) {
					t.Fatalf("datagram %d: %d bytes, want %d; got %x... want %x...", k, len(seg), len(want[k]), seg[:min(8, len(seg))], want[k][:min(8, len(want[k]))])
				}
				if check != nil {
					check(&ctl)
				}
				k++
			}
		}
		if err != nil {
			t.Fatalf("ReadBatch after %d of %d datagrams: %v", k, len(want), err)
		}
	}
	return coalesced
}

// gsoNothingMore checks that nothing else is queued on rconn.
func gsoNothingMore(t *testing.T, r *Conn, rconn *net.UDPConn) {
	t.Helper()
	rconn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	defer rconn.SetReadDeadline(time.Now().Add(30 * time.Second))
	ms := NewMessages(1, GROBufferSize, 0)
	if n, err := r.ReadBatch(ms, 0); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("extra datagram: n = %d (%d bytes), err = %v", n, ms[0].N, err)
	}
}

// gsoPlans are the messages of the GSO tests: 1200-byte segments with a
// short last one, a single segment, one shorter than its segment size,
// many small segments, scattered buffers, a plain message among them,
// and super-buffers near 64 KiB.
var gsoPlans = []gsoPlan{
	{1200, 1200*10 + 500, 1},
	{1200, 1200, 1},
	{1200, 700, 1},
	{100, 100 * 64, 1},
	{1200, 1200*20 + 1, 3},
	{0, 1000, 1},
	{1400, 1400 * 45, 1},
	{1200, 1200 * 54, 2},
}

// gsoWhole is what a GRO receiver gets over a loopback that carries GSO
// datagrams whole (loopbackSegmentsUDP): one coalesced buffer per GSO
// datagram of two segments or more that WriteBatch sends for plans, cut
// at maxSegs segments and 65507 bytes (IPv4; 65527 for IPv6). A message
// or piece of one segment goes as a plain datagram.
func gsoWhole(plans []gsoPlan, maxSegs, maxBytes int) []gsoBuffer {
	var bufs []gsoBuffer
	for _, p := range plans {
		if p.seg == 0 {
			continue
		}
		per := max(1, min(maxSegs, maxBytes/p.seg)) * p.seg
		for off := 0; off < p.total; off += per {
			if n := min(per, p.total-off); n > p.seg {
				bufs = append(bufs, gsoBuffer{p.seg, n})
			}
		}
	}
	return bufs
}

// TestGSOGRO sends GSO messages over loopback to a socket with UDP_GRO
// on. Every datagram must arrive, in order, byte for byte. How they
// arrive depends on the loopback device, and the test asserts exactly
// that: where it carries UDP GSO datagrams whole (tx-udp-segmentation,
// Linux 5.11+), each GSO datagram arrives as one coalesced buffer, the
// GSO datagram sent; where it does not (Linux 5.10), the kernel
// segments them in software before lo and every datagram arrives on its
// own (no UDP_GRO control message): lo has no GRO of its own.
func TestGSOGRO(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			defer sendOnOneCPU(t)() // the order is checked (see sendOnOneCPU)
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			gro := r.SetGRO(true) == nil // FreeBSD: no GRO, datagrams arrive one by one
			whole := gro && s.GSO().Offload && loopbackSegmentsUDP(t)
			// Several super-buffers per WriteBatch need a receive
			// buffer past the default; without root, one at a time.
			perBatch := len(gsoPlans)
			if !ctlRcvbuf(t, rconn, 16<<20) {
				perBatch = 1
			}
			maxBytes := maxGSOBytes(s.family, f.addr)
			next, coalesced, sent := 0, 0, 0
			for round := range 3 {
				for i := 0; i < len(gsoPlans); i += perBatch {
					plans := gsoPlans[i:min(i+perBatch, len(gsoPlans))]
					ms, want := gsoBuild(plans, connAddr(rconn), &next, nil)
					n, err := s.WriteBatch(ms, 0)
					if n != len(ms) || err != nil {
						t.Fatalf("round %d: WriteBatch = %d, %v", round, n, err)
					}
					for j, m := range ms {
						if m.N != plans[j].total {
							t.Errorf("message %d: N = %d, want %d", j, m.N, plans[j].total)
						}
					}
					got := gsoReceiveBuffers(t, r, want, nil)
					var wantBufs []gsoBuffer
					if whole {
						wantBufs = gsoWhole(plans, s.GSO().MaxSegments, maxBytes)
					}
					if fmt.Sprint(got) != fmt.Sprint(wantBufs) {
						t.Fatalf("round %d: coalesced buffers {segment size, length} %v; want %v (loopback carries GSO datagrams whole: %v)", round, got, wantBufs, whole)
					}
					coalesced += len(got)
					sent += len(want)
				}
			}
			gsoNothingMore(t, r, rconn)
			info := s.GSO()
			if info.Offload != (info.Reason == nil) || info.MaxSegments != gsoMaxSegments {
				t.Errorf("GSO() = %+v after sending over loopback", info)
			}
			t.Logf("%d datagrams, %d coalesced buffers, loopback carries GSO datagrams whole: %v, GSO %+v", sent, coalesced, whole, info)
		})
	}
}

// TestGSOProbeAbsent: where the probe finds no UDP_SEGMENT (Linux before
// 4.18 ignores the control message, which would send a GSO buffer as one
// oversized datagram), WriteBatch splits every GSO message itself. The
// probe is forced through its seam; the datagrams are real.
func TestGSOProbeAbsent(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	old := probeGSO
	probeGSO = func(int) error { return fmt.Errorf("test: %w", errors.ErrUnsupported) }
	_, s, rconn, _ := ctlPair(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	probeGSO = old
	rconn.SetDeadline(time.Now().Add(30 * time.Second))
	r := connNew(t, rconn) // no GRO: each datagram must arrive on its own
	info := s.GSO()
	if info.Offload || !errors.Is(info.Reason, errors.ErrUnsupported) {
		t.Fatalf("GSO() = %+v; want off, ErrUnsupported", info)
	}
	if err := s.SetGSO(true); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("SetGSO(true) without kernel GSO = %v; want ErrUnsupported", err)
	}
	next := 0
	ms, want := gsoBuild([]gsoPlan{{500, 1700, 2}, {0, 20, 1}}, connAddr(rconn), &next, nil)
	if n, err := s.WriteBatch(ms, 0); n != 2 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	in := connMessages(8, 2000)
	k := 0
	connReadAll(t, r, in, len(want), func(m *Message) {
		if !bytes.Equal(connJoin(m), want[k]) {
			t.Fatalf("datagram %d: %d bytes, want %d", k, m.N, len(want[k]))
		}
		k++
	})
	gsoNothingMore(t, r, rconn)
}

// TestGSOAllocs: WriteBatch with GSO messages, also split one datagram per
// segment, and ReadBatch with GRO and every option on, allocate nothing.
func TestGSOAllocs(t *testing.T) {
	if connRaceEnabled {
		t.Skip("the race detector makes sync.Pool drop a quarter of what is put back")
	}
	skipIfQEMUSwapsCmsg(t)
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, "udp4", netip.MustParseAddr("127.0.0.1"))
			if split {
				s.SetGSO(false)
			}
			for _, set := range []func(bool) error{r.SetGRO, r.SetReceiveTOS, r.SetReceivePacketInfo, r.SetReceiveTimestamps, r.SetReceiveDropCounter} {
				if err := set(true); err != nil && !qemuLacks(err) && !errors.Is(err, errors.ErrUnsupported) {
					t.Fatal(err)
				}
			}
			next := 0
			out, want := gsoBuild([]gsoPlan{{1200, 1200*3 + 100, 1}, {1200, 2400, 2}}, connAddr(rconn), &next,
				func(oob []byte) []byte { return AppendTOS(oob, netip.MustParseAddr("127.0.0.1"), ECNECT0) })
			in := NewMessages(len(want), GROBufferSize, r.OOBSize())
			var ctl Control
			var failed error
			allocs := testing.AllocsPerRun(100, func() {
				if n, err := s.WriteBatch(out, 0); n != len(out) || err != nil {
					failed = fmt.Errorf("WriteBatch = %d, %v", n, err)
				}
				for got := 0; got < len(want) && failed == nil; {
					n, err := r.ReadBatch(in, 0)
					if err != nil {
						failed = err
					}
					for i := range n {
						if err := in[i].Control(&ctl); err != nil {
							failed = err
						}
						for range Segments(in[i].Buffers[0][:in[i].N], ctl.SegmentSize) {
							got++
						}
					}
				}
			})
			if failed != nil {
				t.Fatal(failed)
			}
			if split && s.GSO().Offload {
				t.Fatalf("GSO() = %+v after SetGSO(false)", s.GSO())
			}
			if allocs != 0 {
				t.Errorf("WriteBatch + ReadBatch + Control: %v allocations per round, want 0", allocs)
			}
		})
	}
}

// TestGSOOneSegment: a message with UDP_SEGMENT that is one datagram (its
// payload fits in one segment), or a GSO datagram WriteBatch cuts that
// holds one segment, goes out as the plain datagram it is, on every
// kernel. Linux itself sends one segment without GSO, but checks the
// segment size first: until "udp: gso: do not drop small packets when
// PMTU reduces" (2025; not in Debian 11's 5.10.223) a segment size plus
// headers above the path MTU gives EINVAL even for a 100-byte payload,
// and since then a one-segment payload above the path MTU gives
// EMSGSIZE, where a plain datagram would be fragmented and sent. Segment
// sizes near and above loopback's MTU (65536), for both families, and
// payloads up to the largest one lo carries in one IP packet (65507 bytes
// over IPv4, the IP maximum; 65488 over IPv6, whose headers take 48; a
// larger one is fragmented, which is not what this test is about: one
// such 65500-byte datagram was lost in 1 of 4 runs on 5.10 under qemu).
func TestGSOOneSegment(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	for _, f := range connFamilies {
		maxPayload := 65536 - 20 - 8 - 1 // 65507, the IPv4 maximum
		if f.addr.Is6() {
			maxPayload = 65536 - 40 - 8
		}
		for _, tc := range []struct {
			name string
			plan gsoPlan
		}{
			{"a small payload, a segment size above the MTU", gsoPlan{65535, 100, 1}},
			{"an empty payload", gsoPlan{1200, 0, 1}},
			{"one segment of the largest payload", gsoPlan{maxPayload, maxPayload, 2}},
			{"the largest payload, a segment size above the MTU", gsoPlan{65535, maxPayload, 1}},
			{"three datagrams of one segment each", gsoPlan{maxPayload, 2*maxPayload + 5, 3}},
			{"a one-segment tail after a GSO datagram", gsoPlan{1000, 65*1000 + 700, 2}},
		} {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				defer sendOnOneCPU(t)() // the order is checked (see sendOnOneCPU)
				r, s, rconn, sconn := ctlPair(t, f.network, f.addr)
				ctlRcvbuf(t, rconn, 4<<20)
				// FreeBSD refuses a UDP datagram larger than the send
				// buffer (EMSGSIZE: sosend_dgram checks it against
				// sb_hiwat, net.inet.udp.maxdgram, 9216 by default).
				if err := sconn.SetWriteBuffer(256 << 10); err != nil {
					t.Fatal(err)
				}
				next := 0
				ms, want := gsoBuild([]gsoPlan{tc.plan, {0, 10, 1}}, connAddr(rconn), &next, nil)
				if n, err := s.WriteBatch(ms, 0); n != 2 || err != nil || ms[0].N != tc.plan.total {
					t.Fatalf("WriteBatch = %d, %v, N = %d; want 2, nil, %d", n, err, ms[0].N, tc.plan.total)
				}
				if c := gsoReceive(t, r, want, nil); c != 0 {
					t.Fatalf("%d coalesced buffers without GRO", c)
				}
				gsoNothingMore(t, r, rconn)
				if info := s.GSO(); info.Offload != (info.Reason == nil) {
					t.Errorf("GSO() = %+v", info)
				}
			})
		}
	}
}

// TestSetMaxSegments: the Conn's segment cap and the kernel's limit
// compose, the smaller one wins and GSO().MaxSegments reports it; a cap
// below 1 is refused and changes nothing; one at or above the kernel's
// limit removes a lower one.
func TestSetMaxSegments(t *testing.T) {
	c := connNew(t, connListen(t, "udp4", netip.MustParseAddr("127.0.0.1")))
	steps := []struct {
		name    string
		do      func() error
		wantErr bool
		want    int
	}{
		{"default", func() error { return nil }, false, gsoMaxSegments},
		{"cap 64", func() error { return c.SetMaxSegments(64) }, false, 64},
		{"cap 0 refused", func() error { return c.SetMaxSegments(0) }, true, 64},
		{"cap -1 refused", func() error { return c.SetMaxSegments(-1) }, true, 64},
		{"cap 1", func() error { return c.SetMaxSegments(1) }, false, 1},
		{"cap 1000: the kernel's limit", func() error { return c.SetMaxSegments(1000) }, false, gsoMaxSegments},
		{"cap 100", func() error { return c.SetMaxSegments(100) }, false, 100},
		{"the kernel turns out to take 64", func() error { c.gso.setSegments(gsoSafeSegments, 0); return nil }, false, gsoSafeSegments},
		{"cap 128: the kernel's 64 stays", func() error { return c.SetMaxSegments(128) }, false, gsoSafeSegments},
		{"cap 20 under the kernel's 64", func() error { return c.SetMaxSegments(20) }, false, 20},
	}
	for _, st := range steps {
		before := c.GSO()
		err := st.do()
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: error %v, want error %v", st.name, err, st.wantErr)
		}
		info := c.GSO()
		if info.MaxSegments != st.want {
			t.Fatalf("%s: GSO().MaxSegments = %d, want %d", st.name, info.MaxSegments, st.want)
		}
		if info.Offload != before.Offload || info.Reason != before.Reason {
			t.Fatalf("%s: GSO() changed from %+v to %+v", st.name, before, info)
		}
	}
}
