package mmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// This file is the portable half of the control messages: the Control
// type, the one cmsg walker, the decoders and the builders. What differs
// per OS is data, in control_GOOS.go: the cmsghdr layout (from x/sys),
// the table of the control messages the OS sends (cmsgTypes), the
// messages the builders write, and the table of receive options
// (rxOptions, used by options.go).

// Control is what mmsg decodes from the control messages (ancillary data)
// of one received datagram: fill it with Message.Control or ParseControl.
// Each field is set only when the matching option is on (the Conn's
// SetGRO, SetReceiveTOS, ... methods) and the kernel sent the message.
type Control struct {
	// SegmentSize is the size of the segments of a datagram coalesced by
	// UDP GRO (SetGRO): the buffer holds the payloads of several
	// datagrams of SegmentSize bytes each, the last possibly shorter.
	// Walk them with Segments or NextSegment. It is 0 for a datagram
	// that was not coalesced.
	SegmentSize int

	// TOS is the IPv4 type-of-service byte or the IPv6 traffic class
	// (SetReceiveTOS); its two low bits are the ECN codepoint (ECN).
	// HasTOS reports whether the kernel sent it.
	TOS    byte
	HasTOS bool

	// Dst is the datagram's destination address, as in its IP header,
	// and IfIndex the index of the interface it arrived on
	// (SetReceivePacketInfo). On an AF_INET6 socket an IPv4 datagram
	// has a v4-mapped Dst, as Message.Addr has. IfIndex is 0 where the
	// OS does not report the interface.
	Dst     netip.Addr
	IfIndex int

	// ReplySrc is the address a reply to the datagram should be sent
	// from, for a sticky-source reply:
	// AppendPacketInfo(oob, ctl.ReplySrc, ctl.IfIndex). It differs from
	// Dst for a datagram sent to a broadcast or multicast address: Linux
	// reports the address the kernel itself would answer from (the
	// ipi_spec_dst of IP_PKTINFO), and where the OS reports only the
	// header destination, ReplySrc is Dst unless that is a multicast,
	// the limited broadcast or the unspecified address, and the zero
	// Addr then (let the kernel choose). See the BUG notes for the OSes.
	ReplySrc netip.Addr

	// Timestamp is when the kernel received the datagram
	// (SetReceiveTimestamps), or the zero Time.
	Timestamp time.Time

	// Drops is the number of datagrams the socket had dropped, since it
	// was opened, when this datagram was queued (Linux SO_RXQ_OVFL, see
	// SetReceiveDropCounter). Linux sends it only when it is not zero:
	// HasDrops reports whether it was sent.
	Drops    uint32
	HasDrops bool
}

// ECN codepoints: the two low bits of Control.TOS, and of the tos argument
// of AppendTOS, AppendIPv4TOS and AppendIPv6TrafficClass (RFC 3168).
const (
	ECNNotECT = 0b00 // Not ECN-capable transport
	ECNECT1   = 0b01 // ECN-capable transport, ECT(1)
	ECNECT0   = 0b10 // ECN-capable transport, ECT(0)
	ECNCE     = 0b11 // Congestion experienced
)

// ECN returns the ECN codepoint of the received TOS or traffic class.
func (c *Control) ECN() byte { return c.TOS & 0b11 }

// GROBufferSize is the buffer size a Message needs to receive a datagram
// coalesced by UDP GRO without truncation (MSG_TRUNC): 64 KiB, the bound
// of a coalesced buffer.
const GROBufferSize = 1 << 16

// MaxOOBSize is an OOB buffer size that holds every control message mmsg
// decodes or builds, all at once, on every supported OS and architecture.
// Conn.OOBSize gives the exact size for the options a Conn has on.
const MaxOOBSize = 256

var (
	// ErrControlTruncated is returned by Message.Control when the kernel
	// cut the control data short (MSG_CTRUNC): the OOB buffer is too
	// small for the options on. Conn.OOBSize tells the size needed.
	ErrControlTruncated = errors.New("mmsg: control data truncated (MSG_CTRUNC): OOB buffer too small for the options on, see Conn.OOBSize")

	// ErrMalformedControl is returned (in a *ControlError) for control
	// data that does not parse: a truncated header, a length shorter
	// than the header or past the end of the buffer, or a payload of the
	// wrong size for its type.
	ErrMalformedControl = errors.New("mmsg: malformed control message")
)

// ControlError describes control data ParseControl could not parse. It
// wraps ErrMalformedControl.
type ControlError struct {
	Level, Type int    // of the control message; -1 if its header is cut
	Offset      int    // of the control message in the buffer
	Len         uint64 // its cmsg_len field (0 if its header is cut)
	Reason      string // what is wrong with it
	Err         error  // ErrMalformedControl
}

// Error says what is wrong and where: the offset, level, type and
// cmsg_len of the control message, and the reason.
func (e *ControlError) Error() string {
	return fmt.Sprintf("%v at offset %d (level %d, type %d, cmsg_len %d): %s",
		e.Err, e.Offset, e.Level, e.Type, e.Len, e.Reason)
}

// Unwrap returns ErrMalformedControl, for errors.Is.
func (e *ControlError) Unwrap() error { return e.Err }

// Reasons of a ControlError: constants, so that finding one allocates
// nothing (only the ControlError does).
const (
	reasonHeaderCut = "header cut short"
	reasonLenShort  = "cmsg_len shorter than the header"
	reasonLenPast   = "cmsg_len past the end of the buffer"
	reasonSize      = "payload of the wrong size for its type"
	reasonSockaddr  = "sockaddr_dl inconsistent with its length"
)

// cmsgKind is what the payload of a control message the OS sends holds:
// it decides the decoder and the Control field filled. The exact size on
// this OS and ABI is in the cmsgTypes entry.
type cmsgKind uint8

const (
	kindGRO        cmsgKind = iota + 1 // int: SegmentSize (UDP_GRO)
	kindTOSByte                        // u_char: TOS (IP_TOS, IP_RECVTOS)
	kindTOSInt                         // int: TOS (IPV6_TCLASS)
	kindPktinfo4                       // struct in_pktinfo {int ifindex; in_addr spec_dst, addr}
	kindDstAddr4                       // struct in_addr: Dst (IP_RECVDSTADDR)
	kindSockaddrDL                     // struct sockaddr_dl: IfIndex (IP_RECVIF); size is a minimum
	kindPktinfo6                       // struct in6_pktinfo {in6_addr addr; uint ifindex}
	kindTimeval                        // the native struct timeval
	kindTimespec                       // the native struct timespec
	kindTimeval64                      // {int64 sec, usec} (Linux SO_TIMESTAMP_NEW)
	kindTimespec64                     // {int64 sec, nsec} (Linux SO_TIMESTAMPNS_NEW)
	kindBintime                        // FreeBSD struct bintime {time_t sec; uint64 frac}
	kindDrops                          // uint32: Drops (SO_RXQ_OVFL)
)

// cmsgType is one control message the OS sends: its level and type, what
// it holds, and its payload size on this OS and ABI. A payload of another
// size is malformed (for kindSockaddrDL, size is the minimum and the
// sockaddr's own length must agree with the payload).
type cmsgType struct {
	level, typ int
	kind       cmsgKind
	size       int
}

// sendMsg is a control message a builder writes: level, type and payload
// size; size 0 means the OS has no such message and the builder appends
// nothing.
type sendMsg struct {
	level, typ, size int
}

// The level (IPPROTO_UDP, the same on every OS) and type of the
// UDP_SEGMENT control message AppendSegmentSize writes: Linux's numbers,
// on every OS (control_linux.go checks them against x/sys). Where the
// kernel has no UDP GSO, Conn.WriteBatch splits such messages itself.
const (
	protoUDP   = 17
	udpSegment = 103
)

var ne = binary.NativeEndian

func cmsgAlign(n int) int { return (n + cmsgAlignTo - 1) &^ (cmsgAlignTo - 1) }

// cmsgSpace is CMSG_SPACE: the bytes a control message with a payload of
// n bytes takes in a buffer, padding included.
func cmsgSpace(n int) int { return cmsgDataOff + cmsgAlign(n) }

// cmsgAt decodes the header of the control message at oob[off:] (off <
// len(oob)): its level, type and payload, and the offset of the next one
// (its padding may be cut by the end of the buffer). It is the one walker
// of control data in mmsg. A reason that is not "" says why the header
// does not parse, and l is its cmsg_len (0 if the header is cut).
func cmsgAt(oob []byte, off int) (level, typ int, data []byte, next int, l uint64, reason string) {
	rest := oob[off:]
	if len(rest) < cmsgHdrLen {
		return -1, -1, nil, 0, 0, reasonHeaderCut
	}
	if cmsgLenSize == 8 {
		l = ne.Uint64(rest)
	} else {
		l = uint64(ne.Uint32(rest))
	}
	level = int(int32(ne.Uint32(rest[cmsgLenSize:])))
	typ = int(int32(ne.Uint32(rest[cmsgLenSize+4:])))
	switch {
	case l < uint64(cmsgDataOff):
		return level, typ, nil, 0, l, reasonLenShort
	case l > uint64(len(rest)):
		return level, typ, nil, 0, l, reasonLenPast
	}
	return level, typ, rest[cmsgDataOff:l], off + min(cmsgAlign(int(l)), len(rest)), l, ""
}

// ParseControl decodes the control messages in oob (the first NN bytes of
// a received Message's OOB) into c, which it resets first. It allocates
// nothing and skips control messages it does not know. A message it knows
// fills its field only if its payload has the exact size of its type on
// this OS and architecture. It never panics: malformed data gives a
// *ControlError wrapping ErrMalformedControl, with c holding what the
// messages before it filled. Message.Control also reports MSG_CTRUNC.
func ParseControl(oob []byte, c *Control) error {
	*c = Control{}
	for off := 0; off < len(oob); {
		level, typ, data, next, l, reason := cmsgAt(oob, off)
		if reason == "" {
			reason = parseCmsg(level, typ, data, c)
		}
		if reason != "" {
			return &ControlError{Level: level, Type: typ, Offset: off, Len: l, Reason: reason, Err: ErrMalformedControl}
		}
		off = next
	}
	return nil
}

// Control decodes the control data a read left in m (m.OOB[:m.NN]) into c,
// as ParseControl does. If the kernel cut the control data short
// (MSG_CTRUNC: the OOB buffer was too small) it returns ErrControlTruncated
// and c holds the fields of the control messages that arrived whole; none
// is filled from the cut one, and the options whose messages did not fit
// are left zero. Other errors are ParseControl's.
func (m *Message) Control(c *Control) error {
	err := ParseControl(m.OOB[:max(0, min(m.NN, len(m.OOB)))], c)
	if m.Flags&msgCtrunc != 0 {
		return ErrControlTruncated
	}
	return err
}

// parseCmsg decodes one control message into c if this OS's table knows
// it. It returns "" when it is decoded or unknown, or why its payload
// does not fit; c is unchanged then.
func parseCmsg(level, typ int, data []byte, c *Control) string {
	for i := range cmsgTypes {
		t := &cmsgTypes[i]
		if t.level != level || t.typ != typ {
			continue
		}
		if t.kind == kindSockaddrDL {
			return parseSockaddrDL(data, t.size, c)
		}
		if len(data) != t.size {
			return reasonSize
		}
		decodeCmsg(t.kind, data, c)
		return ""
	}
	return ""
}

// decodeCmsg fills c from a payload of the exact size of its kind.
func decodeCmsg(kind cmsgKind, data []byte, c *Control) {
	switch kind {
	case kindGRO:
		c.SegmentSize = int(int32(ne.Uint32(data)))
	case kindTOSByte:
		c.TOS, c.HasTOS = data[0], true
	case kindTOSInt:
		c.TOS, c.HasTOS = byte(ne.Uint32(data)), true
	case kindPktinfo4:
		c.IfIndex = int(int32(ne.Uint32(data)))
		c.Dst = netip.AddrFrom4([4]byte(data[8:12])) // ipi_addr: the header's
		if spec := netip.AddrFrom4([4]byte(data[4:8])); !spec.IsUnspecified() {
			c.ReplySrc = spec // ipi_spec_dst: what the kernel replies from
		} else {
			c.ReplySrc = replySrc(c.Dst)
		}
	case kindDstAddr4:
		c.Dst = netip.AddrFrom4([4]byte(data))
		c.ReplySrc = replySrc(c.Dst)
	case kindPktinfo6:
		c.Dst = netip.AddrFrom16([16]byte(data[:16]))
		c.IfIndex = int(ne.Uint32(data[16:]))
		c.ReplySrc = replySrc(c.Dst)
	case kindTimeval:
		c.Timestamp = time.Unix(readInt(data, timeTSize), 1000*readInt(data[usecOff:], usecSize))
	case kindTimespec:
		c.Timestamp = time.Unix(readInt(data, timeTSize), readInt(data[nsecOff:], nsecSize))
	case kindTimeval64:
		c.Timestamp = time.Unix(readInt(data, 8), 1000*readInt(data[8:], 8))
	case kindTimespec64:
		c.Timestamp = time.Unix(readInt(data, 8), readInt(data[8:], 8))
	case kindBintime:
		// frac follows sec (i386 aligns a uint64 to 4 bytes).
		frac := ne.Uint64(data[timeTSize:])
		c.Timestamp = time.Unix(readInt(data, timeTSize), int64((1e9*(frac>>32))>>32))
	case kindDrops:
		c.Drops, c.HasDrops = ne.Uint32(data), true
	}
}

// parseSockaddrDL decodes the interface index of a struct sockaddr_dl
// (IP_RECVIF): { u_char sdl_len, sdl_family; u_short sdl_index; u_char
// sdl_type, sdl_nlen, sdl_alen, sdl_slen; char sdl_data[]; } on every BSD,
// darwin and AIX. The kernel sends sdl_len bytes of it: the payload must
// hold at least the fixed part (minSize), sdl_len must be within the
// payload and hold the fixed part and the name, address and selector it
// announces, and sdl_family must be AF_LINK.
func parseSockaddrDL(data []byte, minSize int, c *Control) string {
	if len(data) < minSize {
		return reasonSize
	}
	sdlLen := int(data[0])
	if sdlLen < minSize || sdlLen > len(data) || int(data[1]) != afLink ||
		minSize+int(data[5])+int(data[6])+int(data[7]) > sdlLen {
		return reasonSockaddr
	}
	c.IfIndex = int(ne.Uint16(data[2:]))
	return ""
}

// replySrc is the reply source for a datagram sent to dst where the OS
// reports only the header destination: dst itself, unless no datagram can
// be sent from it (multicast, the limited broadcast, unspecified).
func replySrc(dst netip.Addr) netip.Addr {
	u := dst.Unmap()
	if u.IsMulticast() || u.IsUnspecified() || u == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.Addr{}
	}
	return dst
}

// readInt reads a native-endian signed integer of size bytes (4 or 8).
func readInt(b []byte, size int) int64 {
	if size == 8 {
		return int64(ne.Uint64(b))
	}
	return int64(int32(ne.Uint32(b)))
}

// appendCmsg appends a control message header for a payload of n bytes,
// padded (CMSG_SPACE), and returns the new buffer and the zeroed payload.
// It allocates only when oob lacks the capacity.
func appendCmsg(oob []byte, level, typ, n int) ([]byte, []byte) {
	start := cmsgAlign(len(oob)) // keep headers aligned after odd input
	end := start + cmsgSpace(n)
	if end > cap(oob) {
		grown := make([]byte, len(oob), max(end, 2*cap(oob)))
		copy(grown, oob)
		oob = grown
	}
	n0 := len(oob)
	oob = oob[:end]
	clear(oob[n0:]) // padding before the header, header, payload, padding
	h := oob[start:]
	if cmsgLenSize == 8 {
		ne.PutUint64(h, uint64(cmsgDataOff+n))
	} else {
		ne.PutUint32(h, uint32(cmsgDataOff+n))
	}
	ne.PutUint32(h[cmsgLenSize:], uint32(int32(level)))
	ne.PutUint32(h[cmsgLenSize+4:], uint32(int32(typ)))
	return oob, h[cmsgDataOff : cmsgDataOff+n]
}

// appendInt appends the message m with the integer v, as one byte or as
// an int (m.size), or nothing if the OS has no such message.
func appendInt(oob []byte, m sendMsg, v byte) []byte {
	if m.size == 0 {
		return oob
	}
	oob, data := appendCmsg(oob, m.level, m.typ, m.size)
	if m.size == 1 {
		data[0] = v
	} else {
		ne.PutUint32(data, uint32(v))
	}
	return oob
}

// AppendSegmentSize appends to oob a UDP_SEGMENT control message that
// makes the kernel send a message's payload as datagrams of size bytes
// each, the last possibly shorter (UDP GSO, Linux 4.18+), and returns the
// extended buffer. It allocates only when oob lacks the capacity (24
// bytes at most). A size of 0 asks for no segmentation: the kernel sends
// the payload as one datagram, and so does Conn.WriteBatch.
//
// Conn.WriteBatch sends such a message as GSO datagrams of at most
// GSOInfo.MaxSegments segments each, or, where the kernel has no GSO (all
// OSes but Linux 4.18+) or a device refused it, as one plain datagram per
// segment with the message's other control messages: see Conn.GSO. A
// datagram of one segment (a payload that fits in one, or the tail of a
// longer one) goes out plain, without UDP_SEGMENT, as the kernel itself
// would send it: Linux kernels without the 2025 fix "udp: gso: do not
// drop small packets when PMTU reduces" (Debian 11's 5.10 among them)
// refuse a UDP_SEGMENT message whose segment size exceeds the path MTU
// less the headers with EINVAL, even a one-segment one. The
// message has Linux's level and type on every OS (IPPROTO_UDP, 103);
// senders other than Conn (Sendmmsg, net.UDPConn) must not be given it off
// Linux, where the kernel would refuse it or send the payload whole.
func AppendSegmentSize(oob []byte, size uint16) []byte {
	oob, data := appendCmsg(oob, protoUDP, udpSegment, 2)
	ne.PutUint16(data, size)
	return oob
}

// AppendTOS appends to oob a control message that sends a message with
// the TOS byte (IPv4) or traffic class (IPv6) tos, whose two low bits are
// the ECN codepoint (ECNECT0, ...), and returns the extended buffer. dst
// is the message's destination and only picks the family: an IPv4 or
// v4-mapped address gives AppendIPv4TOS (also on an AF_INET6 socket), any
// other AppendIPv6TrafficClass. It allocates only when oob lacks the
// capacity (24 bytes at most).
func AppendTOS(oob []byte, dst netip.Addr, tos byte) []byte {
	if dst.Is4() || dst.Is4In6() {
		return AppendIPv4TOS(oob, tos)
	}
	return AppendIPv6TrafficClass(oob, tos)
}

// AppendIPv4TOS appends to oob an IP_TOS control message that sends an
// IPv4 datagram (also one sent from an AF_INET6 socket to a v4-mapped
// address) with the TOS byte tos, whose two low bits are the ECN codepoint,
// and returns the extended buffer. Where the OS has no such message it
// appends nothing (see the BUG notes). It allocates only when oob lacks
// the capacity (24 bytes at most).
func AppendIPv4TOS(oob []byte, tos byte) []byte { return appendInt(oob, sendTOS4, tos) }

// AppendIPv6TrafficClass appends to oob an IPV6_TCLASS control message
// that sends an IPv6 datagram with the traffic class tclass, whose two
// low bits are the ECN codepoint, and returns the extended buffer. Where
// the OS has no such message it appends nothing (see the BUG notes). It
// allocates only when oob lacks the capacity (24 bytes at most).
func AppendIPv6TrafficClass(oob []byte, tclass byte) []byte {
	return appendInt(oob, sendTClass6, tclass)
}

// AppendPacketInfo appends to oob a control message that sends a message
// from the source address src and, if ifIndex is not 0, out of that
// interface, and returns the extended buffer; to choose only the
// interface, pass the unspecified address of the family (0.0.0.0 or ::).
// For a sticky-source reply pass a received Control's ReplySrc and
// IfIndex. An IPv4 src gives IP_PKTINFO (IP_SENDSRCADDR on FreeBSD and
// OpenBSD, which ignore ifIndex); any other valid src IPV6_PKTINFO (on
// Linux a v4-mapped src selects the source of an IPv4 datagram sent from
// an AF_INET6 socket). The zero Addr, or an OS without the message,
// appends nothing. It allocates only when oob lacks the capacity (40
// bytes at most).
func AppendPacketInfo(oob []byte, src netip.Addr, ifIndex int) []byte {
	switch {
	case src.Is4() && sendSrc4.size == 12:
		// struct in_pktinfo: ipi_spec_dst is the source.
		oob, data := appendCmsg(oob, sendSrc4.level, sendSrc4.typ, 12)
		a := src.As4()
		ne.PutUint32(data, uint32(int32(ifIndex)))
		copy(data[4:8], a[:])
		return oob
	case src.Is4() && sendSrc4.size == 4:
		// struct in_addr (IP_SENDSRCADDR).
		oob, data := appendCmsg(oob, sendSrc4.level, sendSrc4.typ, 4)
		a := src.As4()
		copy(data, a[:])
		return oob
	case src.Is6() && sendSrc6.size == 20:
		oob, data := appendCmsg(oob, sendSrc6.level, sendSrc6.typ, 20)
		a := src.As16()
		copy(data, a[:])
		ne.PutUint32(data[16:], uint32(ifIndex))
		return oob
	}
	return oob
}

// segmentSize returns the size of the UDP_SEGMENT control message in oob
// (AppendSegmentSize) and its bounds [start, end), end including the
// padding, or ok == false if there is none (or oob does not parse before
// it). The GSO code of WriteBatch uses it.
func segmentSize(oob []byte) (size, start, end int, ok bool) {
	for off := 0; off < len(oob); {
		level, typ, data, next, _, reason := cmsgAt(oob, off)
		if reason != "" {
			return 0, 0, 0, false
		}
		if level == protoUDP && typ == udpSegment {
			if len(data) != 2 {
				return 0, 0, 0, false
			}
			return int(ne.Uint16(data)), off, next, true
		}
		off = next
	}
	return 0, 0, 0, false
}

// BUG(control): What each OS can do with control messages differs; mmsg
// has the same API everywhere and says so at run time (errors matching
// errors.ErrUnsupported from the Set methods) or by building nothing:
//
//   - UDP GRO (SetGRO) and the drop counter (SetReceiveDropCounter) exist
//     on Linux only. UDP GSO too: elsewhere Conn.WriteBatch splits a
//     UDP_SEGMENT message into plain datagrams itself.
//   - IPv4 TOS cannot be received on OpenBSD, NetBSD, DragonFly and AIX
//     (no IP_RECVTOS; SetReceiveTOS works on an AF_INET6 socket only), and
//     AppendIPv4TOS appends nothing there and on Solaris and illumos.
//   - AppendPacketInfo appends nothing for an IPv4 source on NetBSD,
//     DragonFly and AIX; FreeBSD and OpenBSD (IP_SENDSRCADDR) ignore its
//     ifIndex. AIX has no receive timestamps.
//   - Control.ReplySrc is the kernel's own reply address (ipi_spec_dst)
//     only for IPv4 on an AF_INET socket on Linux, Solaris and illumos
//     (and darwin, when it fills ipi_spec_dst). Elsewhere, and for IPv6 or
//     an AF_INET6 socket, it is the header destination, so a datagram to
//     a subnet's broadcast address has that address as ReplySrc, which a
//     reply cannot be sent from (the kernel refuses it).
//   - Under MSG_CTRUNC Linux cuts the last control message that fits in
//     part; FreeBSD copies whole messages only and drops the rest.
//   - Windows, js, wasip1 and plan9: no control message is decoded or
//     built; the Set methods report errors.ErrUnsupported, and
//     AppendIPv4TOS, AppendIPv6TrafficClass and AppendPacketInfo append
//     nothing.
