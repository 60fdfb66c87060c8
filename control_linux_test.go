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

// qemu-user (7.2) limits, by which the loopback tests below skip what it
// cannot do: it copies the payloads of control messages it does not know
// (UDP_SEGMENT, UDP_GRO, IP_TOS as an int, IPV6_TCLASS, IP_PKTINFO,
// IPV6_PKTINFO) byte for byte between target and host, so on a big-endian
// target their integers reach the host kernel, and come back from it,
// byte-swapped; and it does not implement setsockopt(SO_TIMESTAMPNS,
// SO_TIMESTAMPNS_NEW, SO_RXQ_OVFL): ENOPROTOOPT. The parser's big-endian
// and 32-bit decoding is covered by control_test.go, which runs there.

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
