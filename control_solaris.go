package mmsg

import "golang.org/x/sys/unix"

// Solaris and illumos control messages [illumos usr/src/uts/common/inet:
// ip(4P), ipv6(4P), conn_recvancillary_add]: IP_RECVTOS gives IP_RECVTOS
// with a 1-byte payload; IP_RECVPKTINFO gives IP_PKTINFO with a struct
// in_pktinfo (12 bytes, as on Linux), which also picks the source
// (ipi_spec_dst) and interface of an IPv4 send; the RFC 3542 IPv6
// messages; SO_TIMESTAMP gives SCM_TIMESTAMP, a struct timeval. No IPv4
// TOS is built per datagram. There is no UDP GRO or GSO and no drop
// counter.

var cmsgTypes = [...]cmsgType{
	{unix.IPPROTO_IP, unix.IP_RECVTOS, kindTOSByte, 1},
	{unix.IPPROTO_IP, unix.IP_PKTINFO, kindPktinfo4, unix.SizeofInet4Pktinfo},
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, kindTOSInt, 4},
	{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, kindPktinfo6, unix.SizeofInet6Pktinfo},
	{unix.SOL_SOCKET, unix.SCM_TIMESTAMP, kindTimeval, sizeofTimeval},
}

var (
	sendTOS4    = sendMsg{}
	sendTClass6 = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4}
	sendSrc4    = sendMsg{unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo}
	sendSrc6    = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo}
)

// afLink: no sockaddr_dl messages are decoded here.
const afLink = unix.AF_LINK

var rxOptions = [numOpts]rxOption{
	optGRO:   {name: "UDP GRO"},
	optDrops: {name: "drop counter (SO_RXQ_OVFL)"},
	optTOS: {
		name:   "TOS (IP_RECVTOS, IPV6_RECVTCLASS)",
		v4:     []sockopt{{unix.IPPROTO_IP, unix.IP_RECVTOS, false}},
		v6:     []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, false}},
		mapped: []sockopt{{unix.IPPROTO_IP, unix.IP_RECVTOS, false}},
		oob4:   cmsgSpace(1), oob6: cmsgSpace(4),
	},
	optPacketInfo: {
		name:   "packet info (IP_RECVPKTINFO, IPV6_RECVPKTINFO)",
		v4:     []sockopt{{unix.IPPROTO_IP, unix.IP_RECVPKTINFO, false}},
		v6:     []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, false}},
		mapped: []sockopt{{unix.IPPROTO_IP, unix.IP_RECVPKTINFO, false}},
		oob4:   cmsgSpace(unix.SizeofInet4Pktinfo), oob6: cmsgSpace(unix.SizeofInet6Pktinfo),
	},
	optTimestamps: {
		name: "timestamps (SO_TIMESTAMP)",
		v4:   []sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMP, false}},
		v6:   []sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMP, false}},
		oob4: cmsgSpace(sizeofTimeval), oob6: cmsgSpace(sizeofTimeval),
	},
}
