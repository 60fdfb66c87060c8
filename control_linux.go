package mmsg

import (
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Linux control messages: UDP_GRO carries an int; IP_TOS arrives as one
// byte and is sent as an int; struct in_pktinfo; SO_TIMESTAMPNS gives the
// native struct timespec (two longs: 8 bytes on 32-bit ABIs, 16 on 64-bit)
// and SO_TIMESTAMPNS_NEW (Linux 5.1+) two 64-bit fields everywhere;
// SO_RXQ_OVFL a __u32.

const (
	// udpSegment is the control message type of UDP GSO.
	udpSegment = unix.UDP_SEGMENT

	// ipTOSSendSize is the size of the IP_TOS payload AppendTOS writes.
	ipTOSSendSize = 4

	// ipv4SendSrcType is the control message that picks the source of
	// an IPv4 send.
	ipv4SendSrcType = unix.IP_PKTINFO
)

// parseCmsg decodes one control message into c. It returns "" when the
// message is decoded or unknown, or why its payload does not fit.
func parseCmsg(level, typ int, data []byte, c *Control) string {
	switch level {
	case unix.SOL_UDP:
		if typ == unix.UDP_GRO {
			switch len(data) {
			case 4:
				c.SegmentSize = int(ne.Uint32(data))
			case 2:
				c.SegmentSize = int(ne.Uint16(data))
			default:
				return reasonSize
			}
		}
	case unix.IPPROTO_IP:
		switch typ {
		case unix.IP_TOS:
			return parseTOS(data, c)
		case unix.IP_PKTINFO:
			// struct in_pktinfo { int ipi_ifindex; struct in_addr
			// ipi_spec_dst; struct in_addr ipi_addr; }: ipi_addr
			// is the destination in the datagram's header.
			if len(data) != unix.SizeofInet4Pktinfo {
				return reasonSize
			}
			c.IfIndex = int(int32(ne.Uint32(data)))
			c.Dst = netip.AddrFrom4([4]byte(data[8:12]))
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
		case unix.SO_TIMESTAMPNS, unix.SO_TIMESTAMPNS_NEW, unix.SO_TIMESTAMP, unix.SO_TIMESTAMP_NEW:
			// Two longs (the _OLD types on 32-bit ABIs) or two
			// 64-bit fields: seconds, then ns or µs.
			var sec, frac int64
			switch len(data) {
			case 8:
				sec, frac = readInt(data, 4), readInt(data[4:], 4)
			case 16:
				sec, frac = readInt(data, 8), readInt(data[8:], 8)
			default:
				return reasonSize
			}
			if typ == unix.SO_TIMESTAMP || typ == unix.SO_TIMESTAMP_NEW {
				frac *= 1000
			}
			c.Timestamp = time.Unix(sec, frac)
		case unix.SO_RXQ_OVFL:
			if len(data) != 4 {
				return reasonSize
			}
			c.Drops, c.HasDrops = ne.Uint32(data), true
		}
	}
	return ""
}

// appendInet4PacketInfo appends IP_PKTINFO with ipi_spec_dst = src.
func appendInet4PacketInfo(oob []byte, src [4]byte, ifIndex int) []byte {
	oob, data := appendCmsg(oob, unix.IPPROTO_IP, ipv4SendSrcType, unix.SizeofInet4Pktinfo)
	ne.PutUint32(data, uint32(int32(ifIndex)))
	copy(data[4:8], src[:])
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
		return setsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO, v)
	case optTOS:
		// An AF_INET6 socket takes IP_RECVTOS too, for the IPv4
		// datagrams it receives as v4-mapped.
		return setFamily(fd, family, v,
			sockopt{unix.IPPROTO_IP, unix.IP_RECVTOS}, sockopt{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS}, true)
	case optPacketInfo:
		// IPV6_RECVPKTINFO covers IPv4 datagrams too (v4-mapped).
		return setFamily(fd, family, v,
			sockopt{unix.IPPROTO_IP, unix.IP_PKTINFO}, sockopt{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO}, false)
	case optTimestamps:
		// On 32-bit ABIs the old struct timespec ends in 2038: ask
		// for the 64-bit one (Linux 5.1+) first.
		if on && unix.SizeofPtr == 4 {
			if setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, 1) == nil {
				return nil
			}
		}
		return setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, v)
	case optDrops:
		return setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, v)
	}
	return unix.EINVAL
}

// oobSize is the OOB buffer size the options in opts need on a socket of
// the given family.
func oobSize(opts uint32, family int) int {
	n := 0
	if opts&optGRO != 0 {
		n += cmsgSpace(4)
	}
	if opts&optTOS != 0 {
		n += cmsgSpace(4) // IP_TOS (1 byte) or IPV6_TCLASS (int)
	}
	if opts&optPacketInfo != 0 {
		if family == unix.AF_INET6 {
			n += cmsgSpace(unix.SizeofInet6Pktinfo)
		} else {
			n += cmsgSpace(unix.SizeofInet4Pktinfo)
		}
	}
	if opts&optTimestamps != 0 {
		n += cmsgSpace(16)
	}
	if opts&optDrops != 0 {
		n += cmsgSpace(4)
	}
	return n
}
