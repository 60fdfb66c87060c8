package mmsg

import "golang.org/x/sys/unix"

// darwin and iOS control messages [xnu bsd/netinet/ip_input.c
// ip_savecontrol, bsd/netinet/udp_usrreq.c, bsd/netinet6/ip6_input.c]:
// IPv4 TOS arrives as IP_RECVTOS with a 1-byte payload and is sent as an
// int IP_TOS; IP_RECVPKTINFO gives IP_RECVPKTINFO (= IP_PKTINFO) with a
// struct in_pktinfo, whose ipi_spec_dst the kernel may leave zero; the
// source of an IPv4 send is IP_PKTINFO's ipi_spec_dst. SO_TIMESTAMP gives
// SCM_TIMESTAMP, a struct timeval. There is no UDP GRO or GSO and no drop
// counter (SCM_TIMESTAMP_MONOTONIC is not wall-clock time: not decoded).

var cmsgTypes = [...]cmsgType{
	{unix.IPPROTO_IP, unix.IP_RECVTOS, kindTOSByte, 1},
	{unix.IPPROTO_IP, unix.IP_RECVPKTINFO, kindPktinfo4, unix.SizeofInet4Pktinfo},
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, kindTOSInt, 4},
	{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, kindPktinfo6, unix.SizeofInet6Pktinfo},
	{unix.SOL_SOCKET, unix.SCM_TIMESTAMP, kindTimeval, sizeofTimeval},
}

var (
	sendTOS4    = sendMsg{unix.IPPROTO_IP, unix.IP_TOS, 4}
	sendTClass6 = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4}
	sendSrc4    = sendMsg{unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo}
	sendSrc6    = sendMsg{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo}
)

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
