//go:build netbsd || dragonfly

package mmsg

import "golang.org/x/sys/unix"

// NetBSD and DragonFly control messages, the same on both
// [sys/netinet/ip_input.c ip_savecontrol]: IP_RECVDSTADDR (struct in_addr)
// and IP_RECVIF (struct sockaddr_dl) for IPv4, no IP_RECVTOS; the RFC 3542
// IPv6 messages; SO_TIMESTAMP gives SCM_TIMESTAMP, a struct timeval. No
// IPv4 per-datagram source or TOS is built (DragonFly's udp_output takes
// neither; x/sys has neither IP_PKTINFO nor IP_SENDSRCADDR for NetBSD).
// There is no UDP GRO or GSO and no drop counter.
var cmsgTypes = [...]cmsgType{
	{unix.IPPROTO_IP, unix.IP_RECVDSTADDR, kindDstAddr4, 4},
	{unix.IPPROTO_IP, unix.IP_RECVIF, kindSockaddrDL, sdlMinSize},
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, kindTOSInt, 4},
	{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, kindPktinfo6, unix.SizeofInet6Pktinfo},
	{unix.SOL_SOCKET, unix.SCM_TIMESTAMP, kindTimeval, sizeofTimeval},
}

var (
	sendTOS4    = sendMsg{}
	sendTClass6 = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4}
	sendSrc4    = sendMsg{}
	sendSrc6    = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo}
)

// sdlMinSize is the fixed part of struct sockaddr_dl (offsetof sdl_data).
// IP_RECVIF sends sdl_len bytes of the interface's link address, which
// can pass sizeof(struct sockaddr_dl) for a long name: OOBSize leaves 32
// bytes more, as FreeBSD's ip_savecontrol does.
const (
	sdlMinSize = 8
	afLink     = unix.AF_LINK
)

var rxOptions = [numOpts]rxOption{
	optGRO:   {name: "UDP GRO"},
	optDrops: {name: "drop counter (SO_RXQ_OVFL)"},
	optTOS: {
		// No IP_RECVTOS: IPv6 only.
		name: "TOS (IPV6_RECVTCLASS; IPv4 has no IP_RECVTOS here)",
		v6:   []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, false}},
		oob6: cmsgSpace(4),
	},
	optPacketInfo: {
		name: "packet info (IP_RECVDSTADDR, IP_RECVIF, IPV6_RECVPKTINFO)",
		v4:   []sockopt{{unix.IPPROTO_IP, unix.IP_RECVDSTADDR, false}, {unix.IPPROTO_IP, unix.IP_RECVIF, false}},
		v6:   []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, false}},
		oob4: cmsgSpace(4) + cmsgSpace(unix.SizeofSockaddrDatalink+32), oob6: cmsgSpace(unix.SizeofInet6Pktinfo),
	},
	optTimestamps: {
		name: "timestamps (SO_TIMESTAMP)",
		v4:   []sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMP, false}},
		v6:   []sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMP, false}},
		oob4: cmsgSpace(sizeofTimeval), oob6: cmsgSpace(sizeofTimeval),
	},
}
