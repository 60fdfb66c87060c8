package mmsg

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Linux parts of the control-message tests.

// ipv4SrcType is the control message type AppendPacketInfo writes for an
// IPv4 source, and rxqOvflType the drop counter's.
const (
	ipv4SrcType = unix.IP_PKTINFO
	rxqOvflType = unix.SO_RXQ_OVFL
	sdlFixed    = -1 // no sockaddr_dl messages on Linux
)

// knownCmsgs lists the control messages Linux sends that mmsg decodes,
// with their payload sizes on this ABI from the kernel's declarations:
// UDP_GRO `int gso_size` (include/net/udp.h udp_cmsg_recv, never a
// 16-bit value), IP_TOS one byte (ip_cmsg_recv_tos), IPV6_TCLASS an int,
// struct in_pktinfo 3 x 4 bytes, struct in6_pktinfo 16 + 4, the _OLD
// timestamps two C longs, the _NEW ones two __s64 on every ABI,
// SO_RXQ_OVFL a __u32.
func knownCmsgs() []cmsgCase {
	long2 := 2 * unix.SizeofLong
	hasTOS := func(c *Control) bool { return c.HasTOS }
	return []cmsgCase{
		{"UDP_GRO", unix.SOL_UDP, unix.UDP_GRO, 4, func(c *Control) bool { return c.SegmentSize != 0 }},
		{"IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, 1, hasTOS},
		{"IP_PKTINFO", unix.IPPROTO_IP, unix.IP_PKTINFO, 12, func(c *Control) bool { return c.Dst.IsValid() }},
		{"IPV6_TCLASS", unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4, hasTOS},
		{"IPV6_PKTINFO", unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, 20, func(c *Control) bool { return c.Dst.IsValid() }},
		{"SO_TIMESTAMPNS_OLD", unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_OLD, long2, hasTimestamp},
		{"SO_TIMESTAMPNS_NEW", unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, 16, hasTimestamp},
		{"SO_TIMESTAMP_OLD", unix.SOL_SOCKET, unix.SO_TIMESTAMP_OLD, long2, hasTimestamp},
		{"SO_TIMESTAMP_NEW", unix.SOL_SOCKET, unix.SO_TIMESTAMP_NEW, 16, hasTimestamp},
		{"SO_RXQ_OVFL", unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 4, func(c *Control) bool { return c.HasDrops }},
	}
}

// replySrcCases: Linux's in_pktinfo carries the address the kernel would
// reply from (ipi_spec_dst), which differs from the header destination
// (ipi_addr) for a broadcast or multicast datagram.
func replySrcCases() []struct {
	name          string
	oob           []byte
	dst, replySrc netip.Addr
} {
	in := func(ifIndex int32, spec, addr string) []byte {
		s, a := netip.MustParseAddr(spec).As4(), netip.MustParseAddr(addr).As4()
		return refCmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, append(append(nativeUint32(uint32(ifIndex)), s[:]...), a[:]...))
	}
	ip := netip.MustParseAddr
	return []struct {
		name          string
		oob           []byte
		dst, replySrc netip.Addr
	}{
		{"IPv4 unicast", in(2, "192.0.2.1", "192.0.2.1"), ip("192.0.2.1"), ip("192.0.2.1")},
		{"IPv4 subnet broadcast", in(2, "192.0.2.1", "192.0.2.255"), ip("192.0.2.255"), ip("192.0.2.1")},
		{"IPv4 multicast", in(2, "192.0.2.1", "224.0.0.251"), ip("224.0.0.251"), ip("192.0.2.1")},
		{"IPv4 no spec_dst", in(2, "0.0.0.0", "192.0.2.9"), ip("192.0.2.9"), ip("192.0.2.9")},
		{"IPv4 no spec_dst, broadcast", in(2, "0.0.0.0", "255.255.255.255"), ip("255.255.255.255"), netip.Addr{}},
	}
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

// osGRO: the kernel has UDP GRO.
const osGRO = true

// refuseGSO makes the kernel refuse every UDP_SEGMENT message of the
// socket c (UDP GSO needs UDP checksums); v6 selects the IPv6 option.
func refuseGSO(t *testing.T, c *net.UDPConn, v6 bool) {
	t.Helper()
	connControl(t, c, func(fd int) error {
		if !v6 {
			return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1)
		}
		return unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_NO_CHECK6_TX, 1)
	})
}
