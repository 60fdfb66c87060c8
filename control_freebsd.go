package mmsg

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD control messages: IPv4 TOS arrives as IP_RECVTOS with a 1-byte
// payload and is sent as a 1-byte IP_TOS; the IPv4 destination as
// IP_RECVDSTADDR (a 4-byte struct in_addr, no interface), the interface as
// IP_RECVIF (a struct sockaddr_dl); the source of a send is chosen with
// IP_SENDSRCADDR (struct in_addr). SO_TIMESTAMP gives SCM_TIMESTAMP (a
// struct timeval), SO_BINTIME SCM_BINTIME (struct bintime) and
// SO_TS_CLOCK=SO_TS_REALTIME SCM_REALTIME (a struct timespec). There is no
// UDP GRO or GSO and no drop counter.

const (
	// udpSegment is the type of the UDP_SEGMENT control message
	// AppendSegmentSize writes: Linux's number. FreeBSD has no GSO; the
	// Conn always splits such a message into plain datagrams itself.
	udpSegment = 103

	// ipTOSSendSize is the size of the IP_TOS payload AppendTOS writes:
	// FreeBSD's udp_output takes only a u_char.
	ipTOSSendSize = 1

	// ipv4SendSrcType is the control message that picks the source of
	// an IPv4 send.
	ipv4SendSrcType = unix.IP_SENDSRCADDR
)

// Sizes of the time fields of the kernel's structures on this GOARCH
// (time_t is 32-bit on i386 only).
const (
	timeTSize   = int(unsafe.Sizeof(unix.Timeval{}.Sec))
	timevalSize = int(unsafe.Sizeof(unix.Timeval{}))
	usecOff     = int(unsafe.Offsetof(unix.Timeval{}.Usec))
	usecSize    = int(unsafe.Sizeof(unix.Timeval{}.Usec))
	timespecLen = int(unsafe.Sizeof(unix.Timespec{}))
	nsecOff     = int(unsafe.Offsetof(unix.Timespec{}.Nsec))
	nsecSize    = int(unsafe.Sizeof(unix.Timespec{}.Nsec))
	// struct bintime { time_t sec; uint64_t frac; }
	bintimeFracOff = timeTSize
	bintimeSize    = (timeTSize + 8 + unix.SizeofLong - 1) &^ (unix.SizeofLong - 1)
)

// parseCmsg decodes one control message into c. It returns "" when the
// message is decoded or unknown, or why its payload does not fit.
func parseCmsg(level, typ int, data []byte, c *Control) string {
	switch level {
	case unix.IPPROTO_IP:
		switch typ {
		case unix.IP_RECVTOS:
			return parseTOS(data, c)
		case unix.IP_RECVDSTADDR:
			if len(data) != 4 {
				return reasonSize
			}
			c.Dst = netip.AddrFrom4([4]byte(data))
		case unix.IP_RECVIF:
			// struct sockaddr_dl { u_char sdl_len; u_char
			// sdl_family; u_short sdl_index; ... }
			if len(data) < 4 {
				return reasonSize
			}
			c.IfIndex = int(ne.Uint16(data[2:]))
		}
	case unix.IPPROTO_IPV6:
		switch typ {
		case unix.IPV6_TCLASS:
			return parseTOS(data, c)
		case unix.IPV6_PKTINFO:
			return parseInet6Pktinfo(data, c)
		}
	case unix.SOL_SOCKET:
		switch typ {
		case unix.SCM_TIMESTAMP:
			if len(data) != timevalSize {
				return reasonSize
			}
			c.Timestamp = time.Unix(readInt(data, timeTSize), 1000*readInt(data[usecOff:], usecSize))
		case unix.SCM_REALTIME:
			if len(data) != timespecLen {
				return reasonSize
			}
			c.Timestamp = time.Unix(readInt(data, timeTSize), readInt(data[nsecOff:], nsecSize))
		case unix.SCM_BINTIME:
			if len(data) != bintimeSize {
				return reasonSize
			}
			frac := ne.Uint64(data[bintimeFracOff:])
			c.Timestamp = time.Unix(readInt(data, timeTSize), int64((1e9*(frac>>32))>>32))
		}
	}
	return ""
}

// appendInet4PacketInfo appends IP_SENDSRCADDR; FreeBSD has no way to
// choose the interface of an IPv4 send per message.
func appendInet4PacketInfo(oob []byte, src [4]byte, ifIndex int) []byte {
	oob, data := appendCmsg(oob, unix.IPPROTO_IP, ipv4SendSrcType, 4)
	copy(data, src[:])
	return oob
}

// setOption turns a receive option on or off on the socket fd of the
// given family (AF_INET, AF_INET6 or 0 for another one).
func setOption(fd, family, opt int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	switch opt {
	case optGRO:
		return fmt.Errorf("mmsg: UDP GRO: %w on freebsd", errors.ErrUnsupported)
	case optDrops:
		return fmt.Errorf("mmsg: drop counter (SO_RXQ_OVFL): %w on freebsd", errors.ErrUnsupported)
	case optTOS:
		return setFamily(fd, family, v,
			sockopt{unix.IPPROTO_IP, unix.IP_RECVTOS}, sockopt{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS}, true)
	case optPacketInfo:
		if err := setFamily(fd, family, v,
			sockopt{unix.IPPROTO_IP, unix.IP_RECVDSTADDR}, sockopt{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO}, true); err != nil {
			return err
		}
		if family != unix.AF_INET6 {
			return setsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVIF, v)
		}
		setsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVIF, v) // best effort, as above
		return nil
	case optTimestamps:
		return setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMP, v)
	}
	return unix.EINVAL
}

// oobSize is the OOB buffer size the options in opts need on a socket of
// the given family.
func oobSize(opts uint32, family int) int {
	n := 0
	if opts&optTOS != 0 {
		n += cmsgSpace(4) // IP_RECVTOS (1 byte) or IPV6_TCLASS (int)
	}
	if opts&optPacketInfo != 0 {
		// IPv4: IP_RECVDSTADDR and IP_RECVIF; IPv6: IPV6_PKTINFO.
		n += max(cmsgSpace(4)+cmsgSpace(unix.SizeofSockaddrDatalink), cmsgSpace(unix.SizeofInet6Pktinfo))
	}
	if opts&optTimestamps != 0 {
		n += cmsgSpace(max(timevalSize, timespecLen, bintimeSize))
	}
	return n
}
