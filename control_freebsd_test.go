package mmsg

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD parts of the control-message tests.

const (
	ipv4SrcType = unix.IP_SENDSRCADDR
	rxqOvflType = -1 // no drop counter
)

// knownCmsgs lists the control messages FreeBSD sends that mmsg decodes,
// with their payload sizes on this ABI from the kernel's declarations
// (sys/netinet/ip_input.c ip_savecontrol, sys/netinet6/ip6_input.c):
// IP_RECVTOS one u_char, IP_RECVDSTADDR a struct in_addr, IP_RECVIF a
// struct sockaddr_dl of sdl_len bytes (at least its 8-byte fixed part),
// IPV6_TCLASS an int, struct in6_pktinfo 20 bytes, SCM_TIMESTAMP a struct
// timeval, SCM_REALTIME a struct timespec (time_t is 32-bit on i386
// only; long is the pointer size), SCM_BINTIME {time_t; uint64_t}.
func knownCmsgs() []cmsgCase {
	timeT := 8
	if unsafe.Sizeof(uintptr(0)) == 4 && unsafe.Sizeof(unix.Timeval{}.Sec) == 4 {
		timeT = 4 // i386
	}
	long := int(unsafe.Sizeof(uintptr(0)))
	pair := func(a, b int) int { // struct { time_t; long }, C alignment
		al := max(a, b)
		return (a + b + al - 1) &^ (al - 1)
	}
	bintime := 16
	if timeT == 4 {
		bintime = 12 // i386 aligns uint64_t to 4
	}
	hasTOS := func(c *Control) bool { return c.HasTOS }
	return []cmsgCase{
		{"IP_RECVTOS", unix.IPPROTO_IP, unix.IP_RECVTOS, 1, hasTOS},
		{"IP_RECVDSTADDR", unix.IPPROTO_IP, unix.IP_RECVDSTADDR, 4, func(c *Control) bool { return c.Dst.IsValid() }},
		{"IP_RECVIF", unix.IPPROTO_IP, unix.IP_RECVIF, sizeSockaddrDL, func(c *Control) bool { return c.IfIndex != 0 }},
		{"IPV6_TCLASS", unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4, hasTOS},
		{"IPV6_PKTINFO", unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, 20, func(c *Control) bool { return c.Dst.IsValid() }},
		{"SCM_TIMESTAMP", unix.SOL_SOCKET, unix.SCM_TIMESTAMP, pair(timeT, long), hasTimestamp},
		{"SCM_REALTIME", unix.SOL_SOCKET, unix.SCM_REALTIME, pair(timeT, long), hasTimestamp},
		{"SCM_BINTIME", unix.SOL_SOCKET, unix.SCM_BINTIME, bintime, hasTimestamp},
	}
}

// replySrcCases: FreeBSD's IP_RECVDSTADDR is the header destination only.
func replySrcCases() []struct {
	name          string
	oob           []byte
	dst, replySrc netip.Addr
} {
	ip := netip.MustParseAddr
	dst := func(a string) []byte {
		b := ip(a).As4()
		return refCmsg(unix.IPPROTO_IP, unix.IP_RECVDSTADDR, b[:])
	}
	return []struct {
		name          string
		oob           []byte
		dst, replySrc netip.Addr
	}{
		{"IPv4 unicast", dst("192.0.2.1"), ip("192.0.2.1"), ip("192.0.2.1")},
		{"IPv4 limited broadcast", dst("255.255.255.255"), ip("255.255.255.255"), netip.Addr{}},
		{"IPv4 multicast", dst("224.0.0.251"), ip("224.0.0.251"), netip.Addr{}},
	}
}

// loIndex is the loopback interface's index.
func loIndex(t *testing.T) int {
	t.Helper()
	ifi, err := net.InterfaceByName("lo0")
	if err != nil {
		t.Fatal(err)
	}
	return ifi.Index
}

// TestUnsupportedOptions: FreeBSD has no UDP GRO and no drop counter; the
// Set methods say so and leave OOBSize alone.
func TestUnsupportedOptions(t *testing.T) {
	for _, f := range connFamilies {
		c := connNew(t, connListen(t, f.network, f.addr))
		for name, set := range map[string]func(bool) error{"SetGRO": c.SetGRO, "SetReceiveDropCounter": c.SetReceiveDropCounter} {
			if err := set(true); !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("%s %s(true) = %v, want ErrUnsupported", f.name, name, err)
			}
		}
		if c.OOBSize() != 0 {
			t.Errorf("%s: OOBSize %d after unsupported options", f.name, c.OOBSize())
		}
	}
}

// TestParseControlSockaddrDL: IP_RECVIF fills IfIndex only from a
// sockaddr_dl consistent with its own length and family.
func TestParseControlSockaddrDL(t *testing.T) {
	// lo0 as ip_savecontrol sends it: sdl_len 11, AF_LINK, index 2,
	// IFT_LOOP, a 3-byte name, no address.
	good := []byte{11, unix.AF_LINK, 0, 0, 24, 3, 0, 0, 'l', 'o', '0'}
	ne.PutUint16(good[2:], 2)
	var c Control
	if err := ParseControl(refCmsg(unix.IPPROTO_IP, unix.IP_RECVIF, good), &c); err != nil || c.IfIndex != 2 {
		t.Fatalf("lo0: IfIndex %d, %v", c.IfIndex, err)
	}
	bad := map[string]func(b []byte) []byte{
		"sdl_len past the payload": func(b []byte) []byte { b[0] = 12; return b },
		"sdl_len below 8":          func(b []byte) []byte { b[0] = 7; return b },
		"not AF_LINK":              func(b []byte) []byte { b[1] = unix.AF_INET; return b },
		"name past sdl_len":        func(b []byte) []byte { b[5] = 4; return b },
		"address past sdl_len":     func(b []byte) []byte { b[6] = 1; return b },
	}
	for name, mangle := range bad {
		b := mangle(bytes.Clone(good))
		var ce *ControlError
		err := ParseControl(refCmsg(unix.IPPROTO_IP, unix.IP_RECVIF, b), &c)
		if !errors.As(err, &ce) || ce.Reason != reasonSockaddr || c.IfIndex != 0 {
			t.Errorf("%s: IfIndex %d, %v; want %q", name, c.IfIndex, err, reasonSockaddr)
		}
	}
}
