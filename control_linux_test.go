package mmsg

import (
	"errors"
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
