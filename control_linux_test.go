package mmsg

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// qemu-user (7.2) limits, by which the loopback tests below skip what it
// cannot do: it copies the payloads of control messages it does not know
// (UDP_SEGMENT, UDP_GRO, IP_TOS as an int, IPV6_TCLASS, IP_PKTINFO,
// IPV6_PKTINFO) byte for byte between target and host, so on a big-endian
// target their integers reach the host kernel, and come back from it,
// byte-swapped; and it does not implement setsockopt(SO_TIMESTAMPNS,
// SO_TIMESTAMPNS_NEW, SO_RXQ_OVFL): ENOPROTOOPT. The parser's big-endian
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
func ctlRcvbuf(t *testing.T, c *net.UDPConn, size int) bool {
	t.Helper()
	ok := false
	connControl(t, c, func(fd int) error {
		ok = connForceRcvbuf(fd, size) == nil
		return nil
	})
	return ok
}

// loIndex is the loopback interface's index (SIOCGIFINDEX: qemu-user
// cannot translate the netlink messages of net.Interfaces on every target).
func loIndex(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		t.Fatalf("SIOCGIFINDEX lo: %v", err)
	}
	return int(ifr.Uint32())
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
			if err := r.SetGRO(true); err != nil {
				t.Fatalf("SetGRO: %v", err)
			}
			// Several super-buffers per WriteBatch need a receive
			// buffer past the default; without root, one at a time.
			perBatch := len(gsoPlans)
			if !ctlRcvbuf(t, rconn, 16<<20) {
				perBatch = 1
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
			if s.GSODisabled() {
				t.Error("GSODisabled on loopback")
			}
			t.Logf("%d datagrams, %d coalesced buffers", sent, coalesced)
			if coalesced == 0 {
				t.Error("no datagram arrived coalesced: GRO did not happen")
			}
		})
	}
}

// TestGSOFallback makes the kernel refuse GSO for real: UDP GSO needs UDP
// checksums, and a socket with SO_NO_CHECK (IPv4) or UDP_NO_CHECK6_TX
// (IPv6; the receiver then needs UDP_NO_CHECK6_RX) has none, so
// udp_send_skb and udp_v6_send_skb answer EINVAL for every UDP_SEGMENT
// message while plain datagrams go through. (The EIO of devices without
// checksum offload could not be reproduced: a tun device with its
// offloads off still takes GSO on Linux 6.x.) The Conn must
// turn GSO off, send those messages as plain datagrams, lose nothing and
// send nothing twice, and keep the messages' other control messages.
func TestGSOFallback(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, sconn := ctlPair(t, f.network, f.addr)
			connControl(t, sconn, func(fd int) error {
				if f.addr.Is4() {
					return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1)
				}
				return unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_NO_CHECK6_TX, 1)
			})
			if f.addr.Is6() {
				// IPv6 drops UDP without a checksum unless told not to.
				connControl(t, rconn, func(fd int) error {
					return unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_NO_CHECK6_RX, 1)
				})
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
			for round := range 2 {
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
				if !s.GSODisabled() {
					t.Fatalf("round %d: GSODisabled false after the kernel refused GSO", round)
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

// TestGSOFallbackTooManySegments: another real refusal, EINVAL for more
// segments than UDP_MAX_SEGMENTS (64 or 128), on a socket where GSO works
// otherwise. 2000 one-byte segments also take the fallback across two
// sendmmsg calls (MaxSendBatch).
func TestGSOFallbackTooManySegments(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			if !ctlRcvbuf(t, rconn, 16<<20) {
				t.Skip("needs a receive buffer past net.core.rmem_max (root)")
			}
			next := 0
			ms, want := gsoBuild([]gsoPlan{{1, 2000, 3}, {1200, 2500, 1}}, connAddr(rconn), &next, nil)
			n, err := s.WriteBatch(ms, 0)
			if n != 2 || err != nil || ms[0].N != 2000 || ms[1].N != 2500 {
				t.Fatalf("WriteBatch = %d, %v; N = %d, %d", n, err, ms[0].N, ms[1].N)
			}
			if !s.GSODisabled() {
				t.Fatal("GSODisabled false after EINVAL for 2000 segments")
			}
			gsoReceive(t, r, want, nil)
			gsoNothingMore(t, r, rconn)
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
	if s.GSODisabled() {
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
			r, s, rconn, sconn := ctlPair(t, "udp4", netip.MustParseAddr("127.0.0.1"))
			if fallback {
				connControl(t, sconn, func(fd int) error {
					return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1)
				})
			}
			for _, set := range []func(bool) error{r.SetGRO, r.SetReceiveTOS, r.SetReceivePacketInfo, r.SetReceiveTimestamps, r.SetReceiveDropCounter} {
				if err := set(true); err != nil && !qemuLacks(err) {
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
				if ctl.Dst != tc.dst || ctl.IfIndex != lo {
					t.Errorf("datagram %d: Dst %v, IfIndex %d; want %v, %d", i, ctl.Dst, ctl.IfIndex, tc.dst, lo)
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
	dsts := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.1.2.3")}
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
		if err := m.Control(&ctl); err != nil || ctl.Dst != dsts[i] {
			t.Errorf("datagram %d: Dst %v (%v), want %v", i, ctl.Dst, err, dsts[i])
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

// TestDropCounter overflows a tiny receive buffer on purpose: the drop
// counter must count every datagram that did not arrive.
func TestDropCounter(t *testing.T) {
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			if err := rconn.SetReadBuffer(4096); err != nil { // doubled by the kernel
				t.Fatal(err)
			}
			if err := r.SetReceiveDropCounter(true); qemuLacks(err) {
				t.Skipf("qemu-user: %v", err)
			} else if err != nil {
				t.Fatal(err)
			}
			const sent = 300
			out := make([]Message, sent)
			for i := range out {
				out[i] = Message{Buffers: [][]byte{connPayload(i, 200)}, Addr: connAddr(rconn)}
			}
			if n, err := s.WriteBatch(out, 0); n != sent || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			// Read what was queued, until the socket has been quiet
			// for a while, then send a marker: the count it carries
			// includes every drop before it.
			in := NewMessages(64, 256, r.OOBSize())
			received, last := 0, -1
			var ctl Control
			for {
				rconn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				n, err := r.ReadBatch(in, 0)
				for i := range n {
					seq := int(in[i].Buffers[0][0])<<24 | int(in[i].Buffers[0][1])<<16 | int(in[i].Buffers[0][2])<<8 | int(in[i].Buffers[0][3])
					if seq <= last || seq >= sent {
						t.Fatalf("datagram %d after %d", seq, last)
					}
					if err := in[i].Control(&ctl); err != nil {
						t.Fatal(err)
					}
					if ctl.HasDrops && int(ctl.Drops) > seq-received {
						t.Errorf("datagram %d: %d drops, but only %d datagrams before it are missing", seq, ctl.Drops, seq-received)
					}
					last = seq
					received++
				}
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			rconn.SetReadDeadline(time.Now().Add(30 * time.Second))
			marker := []Message{{Buffers: [][]byte{connPayload(sent, 200)}, Addr: connAddr(rconn)}}
			if n, err := s.WriteBatch(marker, 0); n != 1 || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			connReadAll(t, r, in[:1], 1, func(m *Message) {
				if err := m.Control(&ctl); err != nil {
					t.Fatal(err)
				}
				ctlCapture(t, "drops-"+f.name, m.OOB[:m.NN])
			})
			t.Logf("sent %d, received %d, drop counter %d", sent, received, ctl.Drops)
			if !ctl.HasDrops || ctl.Drops == 0 {
				t.Fatalf("no drop count (received %d of %d)", received, sent)
			}
			if received+int(ctl.Drops) != sent {
				t.Errorf("received %d + dropped %d != sent %d", received, ctl.Drops, sent)
			}
		})
	}
}
