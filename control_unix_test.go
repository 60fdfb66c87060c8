//go:build linux || freebsd

package mmsg

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// qemu-user (7.2) limits, by which the loopback tests below skip what it
// cannot do: it copies the payloads of control messages it does not know
// (UDP_SEGMENT, UDP_GRO, IP_TOS as an int, IPV6_TCLASS, IP_PKTINFO,
// IPV6_PKTINFO) byte for byte between target and host, so on a big-endian
// target their integers reach the host kernel, and come back from it,
// byte-swapped; it does not implement setsockopt(SO_TIMESTAMPNS,
// SO_TIMESTAMPNS_NEW, SO_RXQ_OVFL): ENOPROTOOPT; and it may cut the last
// control message into a short OOB without setting MSG_CTRUNC. The parser's big-endian
// and 32-bit decoding is covered by control_test.go, which runs there.

func skipIfQEMUSwapsCmsg(t *testing.T) {
	t.Helper()
	if underQEMU() && bigEndian() {
		t.Skip("qemu-user passes control-message integers (UDP_SEGMENT, UDP_GRO, IP_TOS, IPV6_TCLASS, pktinfo ifindex) between a big-endian target and the host unswapped")
	}
}

// qemuLacks reports whether err is qemu-user's answer to a socket option
// it does not implement.
func qemuLacks(err error) bool { return underQEMU() && errors.Is(err, unix.ENOPROTOOPT) }

// ctlPair opens a receiver and a sender on f's loopback, with deadlines.
func ctlPair(t *testing.T, network string, addr netip.Addr) (r, s *Conn, rconn, sconn *net.UDPConn) {
	t.Helper()
	rconn = connListen(t, network, addr)
	sconn = connListen(t, network, addr)
	rconn.SetDeadline(time.Now().Add(30 * time.Second))
	sconn.SetDeadline(time.Now().Add(30 * time.Second))
	return connNew(t, rconn), connNew(t, sconn), rconn, sconn
}

// ctlRcvbuf enlarges a receive buffer (root), reporting whether it could.
// Where the kernel caps it lower (FreeBSD: kern.ipc.maxsockbuf, 2 MiB by
// default, also for root), it settles for 1 MiB and reports false.
func ctlRcvbuf(t *testing.T, c *net.UDPConn, size int) bool {
	t.Helper()
	ok := false
	connControl(t, c, func(fd int) error {
		if ok = connForceRcvbuf(fd, size) == nil; !ok {
			connForceRcvbuf(fd, 1<<20)
		}
		return nil
	})
	return ok
}

// ctlCapture saves control data the kernel produced as a seed of
// FuzzParseControl when MMSG_WRITE_CORPUS is set (go test -run . with
// MMSG_WRITE_CORPUS=1 on linux/amd64 wrote testdata/fuzz/FuzzParseControl).
func ctlCapture(t *testing.T, name string, oob []byte) {
	if os.Getenv("MMSG_WRITE_CORPUS") == "" || len(oob) == 0 {
		return
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseControl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", oob)
	if err := os.WriteFile(filepath.Join(dir, "kernel-"+name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

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
				coalesced++
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

func TestGSOGRO(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			err := r.SetGRO(true)
			if !osGRO {
				// FreeBSD: no GRO, and WriteBatch splits GSO
				// messages into plain datagrams itself.
				if !errors.Is(err, errors.ErrUnsupported) || r.OOBSize() != 0 {
					t.Fatalf("SetGRO = %v (OOBSize %d), want ErrUnsupported", err, r.OOBSize())
				}
			} else if err != nil {
				t.Fatalf("SetGRO: %v", err)
			}
			// Several super-buffers per WriteBatch need a receive
			// buffer past the default; without root, one at a time.
			perBatch := len(gsoPlans)
			if !ctlRcvbuf(t, rconn, 16<<20) || !osGRO {
				perBatch = 1 // FreeBSD: lo0's netisr queue holds 256
			}
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
					coalesced += gsoReceive(t, r, want, nil)
					sent += len(want)
				}
			}
			gsoNothingMore(t, r, rconn)
			if s.GSODisabled() != !gsoAvailable {
				t.Errorf("GSODisabled = %v on loopback", s.GSODisabled())
			}
			t.Logf("%d datagrams, %d coalesced buffers", sent, coalesced)
			if osGRO && coalesced == 0 {
				t.Error("no datagram arrived coalesced: GRO did not happen")
			}
			if !osGRO && coalesced != 0 {
				t.Errorf("%d coalesced buffers without GRO", coalesced)
			}
		})
	}
}

// TestGSOFallbackNotGSO: a GSO message the kernel refuses for another
// reason (a malformed IP_TOS control message) fails as a plain datagram
// too: the error is reported for it, and GSO stays on.
func TestGSOFallbackNotGSO(t *testing.T) {
	_, s, rconn, _ := ctlPair(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	next := 0
	ms, _ := gsoBuild([]gsoPlan{{0, 100, 1}, {100, 300, 1}, {0, 100, 1}}, connAddr(rconn), &next, nil)
	var data []byte
	ms[1].OOB, data = appendCmsg(ms[1].OOB, unix.IPPROTO_IP, unix.IP_TOS, 3)
	copy(data, "bad")
	n, err := s.WriteBatch(ms, 0)
	if n != 1 || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("WriteBatch = %d, %v; want 1, EINVAL", n, err)
	}
	if ms[1].N != 0 {
		t.Errorf("failed message: N = %d", ms[1].N)
	}
	if gsoAvailable && s.GSODisabled() {
		t.Error("GSO turned off for an error that was not GSO's")
	}
}

// TestGSOAllocs: WriteBatch with GSO messages, and with the fallback, and
// ReadBatch with GRO and every option on, allocate nothing per call.
func TestGSOAllocs(t *testing.T) {
	if connRaceEnabled {
		t.Skip("the race detector makes sync.Pool drop a quarter of what is put back")
	}
	skipIfQEMUSwapsCmsg(t)
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback=%v", fallback), func(t *testing.T) {
			if !fallback && !gsoAvailable {
				t.Skip("no GSO in this kernel: WriteBatch always splits")
			}
			r, s, rconn, sconn := ctlPair(t, "udp4", netip.MustParseAddr("127.0.0.1"))
			if fallback && gsoAvailable {
				refuseGSO(t, sconn, false)
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
			if s.GSODisabled() != fallback {
				t.Fatalf("GSODisabled = %v", s.GSODisabled())
			}
			if allocs != 0 {
				t.Errorf("WriteBatch + ReadBatch + Control: %v allocations per round, want 0", allocs)
			}
		})
	}
}

// TestReceiveControl: ECN codepoints (per message and per socket), packet
// info and timestamps round-trip over IPv4, IPv6, and IPv4 on an AF_INET6
// socket.
func TestReceiveControl(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	lo := loIndex(t)
	cases := []struct {
		name       string
		rnet, snet string
		raddr      netip.Addr
		saddr      netip.Addr
		dst        netip.Addr // expected Control.Dst
	}{
		{"IPv4", "udp4", "udp4", netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1")},
		{"IPv6", "udp6", "udp6", netip.MustParseAddr("::1"), netip.MustParseAddr("::1"), netip.MustParseAddr("::1")},
		{"IPv4in6", "udp", "udp4", netip.IPv6Unspecified(), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::ffff:127.0.0.1")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rconn := connListen(t, tc.rnet, tc.raddr)
			sconn := connListen(t, tc.snet, tc.saddr)
			rconn.SetDeadline(time.Now().Add(30 * time.Second))
			r, s := connNew(t, rconn), connNew(t, sconn)
			if r.OOBSize() != 0 {
				t.Errorf("OOBSize with nothing on = %d", r.OOBSize())
			}
			for _, set := range []func(bool) error{r.SetReceiveTOS, r.SetReceivePacketInfo} {
				if err := set(true); err != nil {
					t.Fatal(err)
				}
			}
			timestamps := true
			if err := r.SetReceiveTimestamps(true); qemuLacks(err) {
				t.Logf("timestamps not checked: qemu-user: %v", err)
				timestamps = false
			} else if err != nil {
				t.Fatal(err)
			}
			dst := netip.AddrPortFrom(tc.dst.Unmap(), rconn.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			toses := []byte{ECNNotECT, ECNECT1, ECNECT0, ECNCE, 0xb8 | ECNECT0, 0x28 | ECNCE}
			out := make([]Message, len(toses))
			for i, tos := range toses {
				out[i] = Message{Buffers: [][]byte{connPayload(i, 32)}, Addr: dst, OOB: AppendTOS(nil, dst.Addr(), tos)}
			}
			before := time.Now()
			if n, err := s.WriteBatch(out, 0); n != len(out) || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			// Per socket: IP_TOS / IPV6_TCLASS on the sender.
			const sockTOS = 0x40 | ECNCE
			connControl(t, sconn, func(fd int) error {
				if tc.snet == "udp6" {
					return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, sockTOS)
				}
				return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, sockTOS)
			})
			plain := []Message{{Buffers: [][]byte{connPayload(len(toses), 32)}, Addr: dst}}
			if n, err := s.WriteBatch(plain, 0); n != 1 || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			toses = append(toses, sockTOS)
			in := NewMessages(len(toses), 64, r.OOBSize())
			var ctl Control
			i := 0
			connReadAll(t, r, in, len(toses), func(m *Message) {
				after := time.Now()
				if err := m.Control(&ctl); err != nil {
					t.Fatalf("datagram %d: %v", i, err)
				}
				ctlCapture(t, tc.name+"-"+fmt.Sprint(i), m.OOB[:m.NN])
				if !bytes.Equal(connJoin(m), connPayload(i, 32)) {
					t.Errorf("datagram %d: %q", i, connJoin(m))
				}
				if !ctl.HasTOS || ctl.TOS != toses[i] || ctl.ECN() != toses[i]&3 {
					t.Errorf("datagram %d: TOS %#x (%v), ECN %d; want %#x", i, ctl.TOS, ctl.HasTOS, ctl.ECN(), toses[i])
				}
				if ctl.Dst != tc.dst || ctl.IfIndex != lo || ctl.ReplySrc != tc.dst {
					t.Errorf("datagram %d: Dst %v, IfIndex %d, ReplySrc %v; want %v, %d, %[4]v", i, ctl.Dst, ctl.IfIndex, ctl.ReplySrc, tc.dst, lo)
				}
				// Wall clock: allow for a step of NTP.
				if timestamps && (ctl.Timestamp.Before(before.Add(-time.Second)) || ctl.Timestamp.After(after.Add(time.Second))) {
					t.Errorf("datagram %d: timestamp %v, not within [%v, %v]", i, ctl.Timestamp, before, after)
				}
				if m.NN > r.OOBSize() {
					t.Errorf("datagram %d: %d bytes of control data, OOBSize %d", i, m.NN, r.OOBSize())
				}
				i++
			})
			// Turning an option off takes it out of OOBSize and
			// of the control data.
			size := r.OOBSize()
			if err := r.SetReceiveTimestamps(false); err != nil && !qemuLacks(err) {
				t.Fatal(err)
			}
			if timestamps && r.OOBSize() >= size {
				t.Errorf("OOBSize %d after SetReceiveTimestamps(false), %d before", r.OOBSize(), size)
			}
			if n, err := s.WriteBatch(plain, 0); n != 1 || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			connReadAll(t, r, in[:1], 1, func(m *Message) {
				if err := m.Control(&ctl); err != nil || !ctl.Timestamp.IsZero() || !ctl.HasTOS {
					t.Errorf("timestamps off: %+v, %v", ctl, err)
				}
			})
			// A buffer too small for the options: MSG_CTRUNC.
			if n, err := s.WriteBatch(plain, 0); n != 1 || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			in[0].OOB = in[0].OOB[:cmsgSpace(1)]
			connReadAll(t, r, in[:1], 1, func(m *Message) {
				ctlCapture(t, "ctrunc-"+tc.name, m.OOB[:m.NN])
				if err := m.Control(&ctl); err != ErrControlTruncated {
					t.Errorf("OOB of %d bytes: Control = %v, want ErrControlTruncated (flags %#x)", len(m.OOB), err, m.Flags)
				}
			})
		})
	}
}

// TestPacketInfoDst: a receiver bound to the wildcard address learns which
// of its addresses a datagram was sent to.
func TestPacketInfoDst(t *testing.T) {
	rconn := connListen(t, "udp4", netip.IPv4Unspecified())
	rconn.SetDeadline(time.Now().Add(30 * time.Second))
	r := connNew(t, rconn)
	if err := r.SetReceivePacketInfo(true); err != nil {
		t.Fatal(err)
	}
	s := connNew(t, connListen(t, "udp4", netip.MustParseAddr("127.0.0.1")))
	port := rconn.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	// Linux answers for all of 127/8 on lo; FreeBSD's lo0 has
	// 127.0.0.1 only.
	dsts := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.1.2.3")}
	if runtime.GOOS == "freebsd" {
		dsts = dsts[1:2]
	}
	out := make([]Message, len(dsts))
	for i, d := range dsts {
		out[i] = Message{Buffers: [][]byte{{byte(i)}}, Addr: netip.AddrPortFrom(d, port)}
	}
	if n, err := s.WriteBatch(out, 0); n != len(out) || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	in := NewMessages(len(dsts), 16, r.OOBSize())
	var ctl Control
	i := 0
	connReadAll(t, r, in, len(dsts), func(m *Message) {
		if err := m.Control(&ctl); err != nil || ctl.Dst != dsts[i] || ctl.ReplySrc != dsts[i] {
			t.Errorf("datagram %d: Dst %v, ReplySrc %v (%v), want %v", i, ctl.Dst, ctl.ReplySrc, err, dsts[i])
		}
		i++
	})
}

// TestSendPacketInfo: a sender bound to the wildcard address picks each
// datagram's source address with AppendPacketInfo. Loopback has one IPv6
// address, so IPv6 source selection is proven on an AF_INET6 socket
// sending IPv4 (v4-mapped) datagrams, with IPV6_PKTINFO.
func TestSendPacketInfo(t *testing.T) {
	lo := loIndex(t)
	cases := []struct {
		name  string
		snet  string
		saddr netip.Addr
		rnet  string
		raddr netip.Addr
		srcs  []netip.Addr // src for AppendPacketInfo
		want  []netip.Addr // source the receiver sees
		ifs   []int
	}{
		{"IPv4", "udp4", netip.IPv4Unspecified(), "udp4", netip.MustParseAddr("127.0.0.1"),
			[]netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.3")},
			[]netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.3")},
			[]int{0, 0, lo}},
		{"IPv6", "udp6", netip.IPv6Unspecified(), "udp6", netip.MustParseAddr("::1"),
			[]netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("::1")},
			[]netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("::1")},
			[]int{0, lo}},
		{"IPv4in6", "udp", netip.IPv6Unspecified(), "udp4", netip.MustParseAddr("127.0.0.1"),
			[]netip.Addr{netip.MustParseAddr("::ffff:127.0.0.2"), netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("::ffff:127.0.0.1")},
			[]netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("127.0.0.1")},
			[]int{0, 0, lo}},
	}
	if runtime.GOOS == "freebsd" {
		// lo0 has 127.0.0.1 only (a non-local source is refused: see
		// TestSendPacketInfoRefused), IP_SENDSRCADDR takes no
		// interface, and a v4-mapped destination takes no IPv6
		// control message.
		cases = cases[:2]
		cases[0].srcs, cases[0].want, cases[0].ifs = cases[0].srcs[1:2], cases[0].want[1:2], cases[0].ifs[1:2]
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rconn := connListen(t, tc.rnet, tc.raddr)
			rconn.SetDeadline(time.Now().Add(30 * time.Second))
			r := connNew(t, rconn)
			s := connNew(t, connListen(t, tc.snet, tc.saddr))
			dst := rconn.LocalAddr().(*net.UDPAddr).AddrPort()
			out := make([]Message, len(tc.srcs))
			for i, src := range tc.srcs {
				ifIndex := tc.ifs[i]
				if underQEMU() && bigEndian() {
					ifIndex = 0 // see skipIfQEMUSwapsCmsg; the address is bytes, unaffected
				}
				out[i] = Message{Buffers: [][]byte{{byte(i)}}, Addr: dst, OOB: AppendPacketInfo(nil, src, ifIndex)}
			}
			if n, err := s.WriteBatch(out, 0); n != len(out) || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			in := NewMessages(len(out), 16, 0)
			i := 0
			connReadAll(t, r, in, len(out), func(m *Message) {
				if m.N != 1 || m.Buffers[0][0] != byte(i) || m.Addr.Addr() != tc.want[i] {
					t.Errorf("datagram %d (%d) from %v, want %v", i, m.Buffers[0][0], m.Addr, tc.want[i])
				}
				i++
			})
		})
	}
}

// TestSendPacketInfoRefused: the kernel really takes the source from the
// control message: an address that is not the host's is refused.
func TestSendPacketInfoRefused(t *testing.T) {
	rconn := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	s := connNew(t, connListen(t, "udp4", netip.IPv4Unspecified()))
	out := []Message{{Buffers: [][]byte{{1}}, Addr: connAddr(rconn), OOB: AppendPacketInfo(nil, netip.MustParseAddr("192.0.2.1"), 0)}}
	n, err := s.WriteBatch(out, 0)
	t.Logf("WriteBatch from 192.0.2.1: %d, %v", n, err)
	if n != 0 || err == nil || runtime.GOOS == "freebsd" && !errors.Is(err, unix.EADDRNOTAVAIL) {
		t.Fatalf("WriteBatch from 192.0.2.1 = %d, %v; want an error (EADDRNOTAVAIL on FreeBSD)", n, err)
	}
}

// ctlLayout lists the (level, type) and offset of each control message in
// oob, which the kernel wrote.
func ctlLayout(t *testing.T, oob []byte) (offs []int, lt [][2]int) {
	t.Helper()
	for off := 0; off < len(oob); {
		level, typ, _, next, _, reason := cmsgAt(oob, off)
		if reason != "" {
			t.Fatalf("kernel control data %x: %s at %d", oob, reason, off)
		}
		offs, lt = append(offs, off), append(lt, [2]int{level, typ})
		off = next
	}
	return offs, lt
}

// TestControlTruncatedLoopback: a real short OOB (issue 8, bug 4). First
// the case, a receive timestamp into CMSG_LEN(half of it): Linux
// cuts the message to what fits and sets MSG_CTRUNC; Message.Control must
// answer ErrControlTruncated and leave Timestamp zero (it used to decode
// the 8 bytes as a 32-bit timestamp). Then an OOB that holds all the
// control messages but the last one's payload: the fields of the whole
// ones are kept, the last one's is not filled.
func TestControlTruncatedLoopback(t *testing.T) {
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			timestamps := true
			if err := r.SetReceiveTimestamps(true); qemuLacks(err) {
				timestamps = false
			} else if err != nil {
				t.Fatal(err)
			}
			send := func() {
				t.Helper()
				out := []Message{{Buffers: [][]byte{[]byte("ctrunc")}, Addr: connAddr(rconn)}}
				if n, err := s.WriteBatch(out, 0); n != 1 || err != nil {
					t.Fatalf("WriteBatch = %d, %v", n, err)
				}
			}
			in := NewMessages(1, 64, MaxOOBSize)
			var ctl Control
			if timestamps {
				// A full read first: the timestamp's real size.
				send()
				var tsLen int
				connReadAll(t, r, in, 1, func(m *Message) {
					_, _, data, _, _, reason := cmsgAt(m.OOB[:m.NN], 0)
					if reason != "" || m.Control(&ctl) != nil || ctl.Timestamp.IsZero() {
						t.Fatalf("full OOB: %x (%s), %+v", m.OOB[:m.NN], reason, ctl)
					}
					tsLen = len(data)
				})
				send()
				in[0].OOB = in[0].OOB[:cmsgDataOff+tsLen/2]
				connReadAll(t, r, in, 1, func(m *Message) {
					ctlCapture(t, "ctrunc-timestamp-"+f.name, m.OOB[:m.NN])
					err := m.Control(&ctl)
					t.Logf("OOB of %d bytes for a %d-byte timestamp: NN %d, flags %#x, %v", len(m.OOB), tsLen, m.NN, m.Flags, err)
					if err != ErrControlTruncated || m.Flags&unix.MSG_CTRUNC == 0 {
						t.Errorf("Control = %v (flags %#x), want ErrControlTruncated", err, m.Flags)
					}
					if !ctl.Timestamp.IsZero() {
						t.Errorf("timestamp %v made up from %d bytes of a cut message", ctl.Timestamp, m.NN)
					}
				})
				in[0].OOB = in[0].OOB[:MaxOOBSize]
			}

			// Packet info and TOS too; then cut the last message.
			if err := r.SetReceivePacketInfo(true); err != nil {
				t.Fatal(err)
			}
			if err := r.SetReceiveTOS(true); err != nil {
				t.Fatal(err)
			}
			send()
			var full Control
			var offs []int
			var lt [][2]int
			connReadAll(t, r, in, 1, func(m *Message) {
				if err := m.Control(&full); err != nil {
					t.Fatal(err)
				}
				offs, lt = ctlLayout(t, m.OOB[:m.NN])
			})
			if len(offs) < 2 {
				t.Fatalf("%d control messages, want at least 2", len(offs))
			}
			last := offs[len(offs)-1]
			var whole Control // what the messages before the last one give
			if err := ParseControl(in[0].OOB[:last], &whole); err != nil {
				t.Fatal(err)
			}
			if whole.HasTOS == full.HasTOS && whole.Dst == full.Dst && whole.Timestamp.IsZero() == full.Timestamp.IsZero() {
				t.Fatalf("the last control message (level %d, type %d) fills no field of its own", lt[len(lt)-1][0], lt[len(lt)-1][1])
			}
			send()
			in[0].OOB = in[0].OOB[:last+cmsgHdrLen]
			connReadAll(t, r, in, 1, func(m *Message) {
				ctlCapture(t, "ctrunc-last-"+f.name, m.OOB[:m.NN])
				err := m.Control(&ctl)
				if underQEMU() && m.Flags&unix.MSG_CTRUNC == 0 && errors.Is(err, ErrMalformedControl) {
					// qemu-user cuts the message without setting
					// MSG_CTRUNC: malformed, and still no field.
					t.Logf("qemu-user: no MSG_CTRUNC for a cut message: %v", err)
				} else if err != ErrControlTruncated {
					t.Errorf("OOB of %d bytes (the last message at %d): Control = %v, want ErrControlTruncated", len(m.OOB), last, err)
				}
				// Timestamps differ from datagram to datagram: compare
				// which fields are set, and the others' values.
				got, want := ctl, whole
				if got.Timestamp.IsZero() != want.Timestamp.IsZero() {
					t.Errorf("cut control data: timestamp %v, whole messages' %v", got.Timestamp, want.Timestamp)
				}
				got.Timestamp, want.Timestamp = time.Time{}, time.Time{}
				if got != want {
					t.Errorf("cut control data gave %+v, want the whole messages' %+v", ctl, whole)
				}
			})
		})
	}
}

// TestSetListOrNext: an orNext socket option falls back to the next one
// when the kernel refuses it, and skips it when it works.
func TestSetListOrNext(t *testing.T) {
	c := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	const bogus = 0x7ff0 // no such SOL_SOCKET option
	get := func() int {
		v := -1
		connControl(t, c, func(fd int) (err error) {
			v, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMP)
			return err
		})
		return v
	}
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	run := func(list []sockopt, v int) (err error) {
		rc.Control(func(fd uintptr) { err = setList(fd, list, v) })
		return err
	}
	if err := run([]sockopt{{unix.SOL_SOCKET, bogus, true}, {unix.SOL_SOCKET, unix.SO_TIMESTAMP, false}}, 1); err != nil || get() == 0 {
		t.Errorf("fallback: %v, SO_TIMESTAMP = %d", err, get())
	}
	if err := run([]sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMP, true}, {unix.SOL_SOCKET, bogus, false}}, 0); err != nil || get() != 0 {
		t.Errorf("skip: %v, SO_TIMESTAMP = %d", err, get())
	}
	if err := run([]sockopt{{unix.SOL_SOCKET, bogus, false}}, 1); err == nil {
		t.Error("a refused option gave no error")
	}
}
