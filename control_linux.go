package mmsg

import "golang.org/x/sys/unix"

// Linux (and Android) control messages [net/ipv4/ip_sockglue.c,
// net/ipv6/datagram.c, net/core/sock.c, include/net/udp.h]: UDP_GRO sends
// an int; IP_TOS arrives as one byte (ip_cmsg_recv_tos) and is sent as an
// int; IPV6_TCLASS an int; IP_PKTINFO a struct in_pktinfo (12 bytes);
// IPV6_PKTINFO a struct in6_pktinfo (20); SO_TIMESTAMPNS_OLD and
// SO_TIMESTAMP_OLD the native struct timespec and timeval (two longs: 8
// bytes on 32-bit ABIs, 16 on 64-bit), the _NEW types (Linux 5.1+) two
// 64-bit fields on every ABI; SO_RXQ_OVFL a __u32.

var cmsgTypes = [...]cmsgType{
	{unix.SOL_UDP, unix.UDP_GRO, kindGRO, 4},
	{unix.IPPROTO_IP, unix.IP_TOS, kindTOSByte, 1},
	{unix.IPPROTO_IP, unix.IP_PKTINFO, kindPktinfo4, unix.SizeofInet4Pktinfo},
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, kindTOSInt, 4},
	{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, kindPktinfo6, unix.SizeofInet6Pktinfo},
	{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_OLD, kindTimespec, sizeofTimespec},
	{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, kindTimespec64, 16},
	{unix.SOL_SOCKET, unix.SO_TIMESTAMP_OLD, kindTimeval, sizeofTimeval},
	{unix.SOL_SOCKET, unix.SO_TIMESTAMP_NEW, kindTimeval64, 16},
	{unix.SOL_SOCKET, unix.SO_RXQ_OVFL, kindDrops, 4},
}

// What the builders write: IP_TOS as an int, IPV6_TCLASS an int,
// IP_PKTINFO (ipi_spec_dst is the source, ipi_ifindex the interface),
// IPV6_PKTINFO.
var (
	sendTOS4    = sendMsg{unix.IPPROTO_IP, unix.IP_TOS, 4}
	sendTClass6 = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4}
	sendSrc4    = sendMsg{unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo}
	sendSrc6    = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo}
)

var rxOptions = [numOpts]rxOption{
	optGRO: {
		name: "UDP GRO (UDP_GRO)",
		v4:   []sockopt{{unix.SOL_UDP, unix.UDP_GRO, false}},
		v6:   []sockopt{{unix.SOL_UDP, unix.UDP_GRO, false}},
		oob4: cmsgSpace(4), oob6: cmsgSpace(4),
	},
	optTOS: {
		name: "TOS (IP_RECVTOS, IPV6_RECVTCLASS)",
		v4:   []sockopt{{unix.IPPROTO_IP, unix.IP_RECVTOS, false}},
		v6:   []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, false}},
		// An AF_INET6 socket takes IP_RECVTOS too, for the IPv4
		// datagrams it receives as v4-mapped (then IP_TOS arrives).
		mapped: []sockopt{{unix.IPPROTO_IP, unix.IP_RECVTOS, false}},
		oob4:   cmsgSpace(1), oob6: cmsgSpace(4),
	},
	optPacketInfo: {
		name: "packet info (IP_PKTINFO, IPV6_RECVPKTINFO)",
		v4:   []sockopt{{unix.IPPROTO_IP, unix.IP_PKTINFO, false}},
		// IPV6_RECVPKTINFO covers IPv4 datagrams too (v4-mapped).
		v6:   []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, false}},
		oob4: cmsgSpace(unix.SizeofInet4Pktinfo), oob6: cmsgSpace(unix.SizeofInet6Pktinfo),
	},
	optTimestamps: {
		// The old struct timespec ends in 2038 on 32-bit ABIs: ask for
		// the 64-bit one (Linux 5.1+) first, on every ABI alike.
		name: "timestamps (SO_TIMESTAMPNS)",
		v4:   []sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, true}, {unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, false}},
		v6:   []sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, true}, {unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, false}},
		oob4: cmsgSpace(16), oob6: cmsgSpace(16),
	},
	optDrops: {
		name: "drop counter (SO_RXQ_OVFL)",
		v4:   []sockopt{{unix.SOL_SOCKET, unix.SO_RXQ_OVFL, false}},
		v6:   []sockopt{{unix.SOL_SOCKET, unix.SO_RXQ_OVFL, false}},
		oob4: cmsgSpace(4), oob6: cmsgSpace(4),
	},
}

// afLink is AF_LINK for struct sockaddr_dl: Linux sends none.
const afLink = 0

// AppendSegmentSize writes Linux's UDP_SEGMENT on every OS.
var _ = [1]struct{}{}[unix.UDP_SEGMENT-udpSegment]
var _ = [1]struct{}{}[unix.SOL_UDP-protoUDP]
