package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD control messages [sys/netinet/ip_input.c ip_savecontrol,
// sys/netinet6/ip6_input.c ip6_savecontrol_v4, sys/netinet/udp_usrreq.c]:
// IPv4 TOS arrives as IP_RECVTOS with a 1-byte payload and is sent as a
// 1-byte IP_TOS (udp_output takes only a u_char); the IPv4 destination as
// IP_RECVDSTADDR (a struct in_addr, no interface), the interface as
// IP_RECVIF (a struct sockaddr_dl of sdl_len bytes); the source of a send
// is chosen with IP_SENDSRCADDR (struct in_addr). An AF_INET6 socket
// reports IPv4 datagrams with the IPv6 messages (IPV6_PKTINFO with a
// v4-mapped address, IPV6_TCLASS with the TOS). SO_TIMESTAMP gives
// SCM_TIMESTAMP (a struct timeval), SO_TS_CLOCK SCM_REALTIME (struct
// timespec) or SCM_BINTIME (struct bintime). There is no UDP GRO or GSO
// and no drop counter.

// sizeofBintime is the size of struct bintime { time_t sec; uint64_t
// frac; }: 12 bytes on i386 (32-bit time_t, uint64 aligned to 4), 16
// elsewhere.
const sizeofBintime = int(unsafe.Sizeof(struct {
	sec  [timeTSize]byte
	frac uint64
}{}))

var cmsgTypes = [...]cmsgType{
	{unix.IPPROTO_IP, unix.IP_RECVTOS, kindTOSByte, 1},
	{unix.IPPROTO_IP, unix.IP_RECVDSTADDR, kindDstAddr4, 4},
	{unix.IPPROTO_IP, unix.IP_RECVIF, kindSockaddrDL, sdlMinSize},
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, kindTOSInt, 4},
	{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, kindPktinfo6, unix.SizeofInet6Pktinfo},
	{unix.SOL_SOCKET, unix.SCM_TIMESTAMP, kindTimeval, sizeofTimeval},
	{unix.SOL_SOCKET, unix.SCM_REALTIME, kindTimespec, sizeofTimespec},
	{unix.SOL_SOCKET, unix.SCM_BINTIME, kindBintime, sizeofBintime},
}

var (
	sendTOS4    = sendMsg{unix.IPPROTO_IP, unix.IP_TOS, 1}
	sendTClass6 = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4}
	sendSrc4    = sendMsg{unix.IPPROTO_IP, unix.IP_SENDSRCADDR, 4}
	sendSrc6    = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo}
)

// sdlMinSize is the fixed part of struct sockaddr_dl (offsetof sdl_data),
// and sdlMaxSize the most IP_RECVIF sends: ip_savecontrol copies at most
// a sockaddr_dl and 32 bytes more.
const (
	sdlMinSize = 8
	sdlMaxSize = unix.SizeofSockaddrDatalink + 32
	afLink     = unix.AF_LINK
)

var rxOptions = [numOpts]rxOption{
	optGRO:   {name: "UDP GRO"},
	optDrops: {name: "drop counter (SO_RXQ_OVFL)"},
	optTOS: {
		name: "TOS (IP_RECVTOS, IPV6_RECVTCLASS)",
		v4:   []sockopt{{unix.IPPROTO_IP, unix.IP_RECVTOS, false}},
		v6:   []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, false}},
		oob4: cmsgSpace(1), oob6: cmsgSpace(4),
	},
	optPacketInfo: {
		name: "packet info (IP_RECVDSTADDR, IP_RECVIF, IPV6_RECVPKTINFO)",
		v4:   []sockopt{{unix.IPPROTO_IP, unix.IP_RECVDSTADDR, false}, {unix.IPPROTO_IP, unix.IP_RECVIF, false}},
		v6:   []sockopt{{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, false}},
		oob4: cmsgSpace(4) + cmsgSpace(sdlMaxSize), oob6: cmsgSpace(unix.SizeofInet6Pktinfo),
	},
	optTimestamps: {
		name: "timestamps (SO_TIMESTAMP)",
		v4:   []sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMP, false}},
		v6:   []sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMP, false}},
		oob4: cmsgSpace(max(sizeofTimeval, sizeofTimespec, sizeofBintime)),
		oob6: cmsgSpace(max(sizeofTimeval, sizeofTimespec, sizeofBintime)),
	},
}
