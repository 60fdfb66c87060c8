package mmsg

import "golang.org/x/sys/unix"

// AIX control messages: IP_RECVDSTADDR (struct in_addr) and
// IP_RECVINTERFACE (struct sockaddr_dl) for IPv4, as golang.org/x/net's
// ipv4 package uses them; no IP_RECVTOS; the RFC 3542 IPv6 messages. No
// receive timestamps (x/sys has no SO_TIMESTAMP for AIX), no IPv4
// per-datagram source or TOS, no UDP GRO or GSO, no drop counter.

var cmsgTypes = [...]cmsgType{
	{unix.IPPROTO_IP, unix.IP_RECVDSTADDR, kindDstAddr4, 4},
	{unix.IPPROTO_IP, unix.IP_RECVINTERFACE, kindSockaddrDL, sdlMinSize},
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, kindTOSInt, 4},
	{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, kindPktinfo6, sizeofInet6Pktinfo},
}

var (
	sendTOS4    = sendMsg{}
	sendTClass6 = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4}
	sendSrc4    = sendMsg{}
	sendSrc6    = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, sizeofInet6Pktinfo}
)

// sdlMinSize is the fixed part of struct sockaddr_dl (offsetof sdl_data).
const (
	sdlMinSize = 8
	afLink     = unix.AF_LINK
)

var rxOptions = [numOpts]rxOption{
	optGRO:        {name: "UDP GRO"},
	optDrops:      {name: "drop counter (SO_RXQ_OVFL)"},
	optTimestamps: {name: "timestamps (SO_TIMESTAMP)"},
	optTOS: {
		name: "TOS (IPV6_RECVTCLASS; IPv4 has no IP_RECVTOS here)",
		v6:   []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, false}},
		oob6: cmsgSpace(4),
	},
	optPacketInfo: {
		name: "packet info (IP_RECVDSTADDR, IP_RECVINTERFACE, IPV6_RECVPKTINFO)",
		v4:   []sockopt{{unix.IPPROTO_IP, unix.IP_RECVDSTADDR, false}, {unix.IPPROTO_IP, unix.IP_RECVINTERFACE, false}},
		v6:   []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, false}},
		oob4: cmsgSpace(4) + cmsgSpace(unix.SizeofSockaddrDatalink), oob6: cmsgSpace(sizeofInet6Pktinfo),
	},
}

// sizeofInet6Pktinfo is the size of struct in6_pktinfo { struct in6_addr
// ipi6_addr; unsigned int ipi6_ifindex; } (netinet/in.h; x/sys lacks it
// for AIX).
const sizeofInet6Pktinfo = 20
