//go:build linux || freebsd

package mmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

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

	// Dst is the datagram's destination address and IfIndex the index of
	// the interface it arrived on (SetReceivePacketInfo). On an AF_INET6
	// socket an IPv4 datagram has a v4-mapped Dst, as Message.Addr has.
	// FreeBSD reports the IPv4 interface only with IP_RECVIF, which
	// SetReceivePacketInfo turns on too.
	Dst     netip.Addr
	IfIndex int

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
// of AppendTOS (RFC 3168).
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

// malformed returns the error for control data that does not parse (the
// only place ParseControl allocates).
func malformed(level, typ, off int, l uint64, reason string) error {
	return &ControlError{Level: level, Type: typ, Offset: off, Len: l, Reason: reason, Err: ErrMalformedControl}
}

// Layout of struct cmsghdr: cmsg_len is a size_t on Linux and a socklen_t
// on FreeBSD; cmsg_level and cmsg_type are ints. Headers and payloads are
// aligned to the size of a pointer on both (CMSG_ALIGN, and x/sys's
// CmsgSpace); the tests check these constants against x/sys.
const (
	cmsgAlignTo  = unix.SizeofPtr
	cmsgLenSize  = int(unsafe.Sizeof(unix.Cmsghdr{}.Len))
	cmsgLevelOff = int(unsafe.Offsetof(unix.Cmsghdr{}.Level))
	cmsgTypeOff  = int(unsafe.Offsetof(unix.Cmsghdr{}.Type))
	cmsgHdrLen   = unix.SizeofCmsghdr
	cmsgDataOff  = (cmsgHdrLen + cmsgAlignTo - 1) &^ (cmsgAlignTo - 1) // CMSG_LEN(0)
)

func cmsgAlign(n int) int { return (n + cmsgAlignTo - 1) &^ (cmsgAlignTo - 1) }

// cmsgSpace is CMSG_SPACE: the bytes a control message with a payload of
// n bytes takes in a buffer, padding included.
func cmsgSpace(n int) int { return cmsgDataOff + cmsgAlign(n) }

var ne = binary.NativeEndian

// ParseControl decodes the control messages in oob (the first NN bytes of
// a received Message's OOB) into c, which it resets first. It allocates
// nothing, skips control messages it does not know, and never panics:
// malformed data gives a *ControlError wrapping ErrMalformedControl, with
// c holding what was decoded before it. Message.Control also reports
// MSG_CTRUNC.
func ParseControl(oob []byte, c *Control) error {
	*c = Control{}
	for off := 0; off < len(oob); {
		rest := oob[off:]
		if len(rest) < cmsgHdrLen {
			return malformed(-1, -1, off, 0, "header cut short")
		}
		var l uint64
		if cmsgLenSize == 8 {
			l = ne.Uint64(rest)
		} else {
			l = uint64(ne.Uint32(rest))
		}
		level := int(int32(ne.Uint32(rest[cmsgLevelOff:])))
		typ := int(int32(ne.Uint32(rest[cmsgTypeOff:])))
		switch {
		case l < cmsgDataOff:
			return malformed(level, typ, off, l, "cmsg_len shorter than the header")
		case l > uint64(len(rest)):
			return malformed(level, typ, off, l, "cmsg_len past the end of the buffer")
		}
		if reason := parseCmsg(level, typ, rest[cmsgDataOff:l], c); reason != "" {
			return malformed(level, typ, off, l, reason)
		}
		off += min(cmsgAlign(int(l)), len(rest))
	}
	return nil
}

// Control decodes the control data a read left in m (m.OOB[:m.NN]) into c,
// as ParseControl does, and returns ErrControlTruncated if the kernel
// flagged it as cut short (MSG_CTRUNC); c then holds what did fit.
func (m *Message) Control(c *Control) error {
	err := ParseControl(m.OOB[:max(0, min(m.NN, len(m.OOB)))], c)
	if m.Flags&unix.MSG_CTRUNC != 0 {
		return ErrControlTruncated
	}
	return err
}

// reasonSize is parseCmsg's complaint about a payload, a constant so that
// returning it allocates nothing.
const reasonSize = "payload of the wrong size for its type"

// readInt reads a native-endian signed integer of size bytes (4 or 8).
func readInt(b []byte, size int) int64 {
	if size == 8 {
		return int64(ne.Uint64(b))
	}
	return int64(int32(ne.Uint32(b)))
}

// parseTOS decodes a TOS byte sent as one byte or as an int.
func parseTOS(data []byte, c *Control) string {
	switch len(data) {
	case 1:
		c.TOS = data[0]
	case 4:
		c.TOS = byte(ne.Uint32(data))
	default:
		return reasonSize
	}
	c.HasTOS = true
	return ""
}

// parseInet6Pktinfo decodes struct in6_pktinfo (the same on both OSes).
func parseInet6Pktinfo(data []byte, c *Control) string {
	if len(data) != unix.SizeofInet6Pktinfo {
		return reasonSize
	}
	c.Dst = netip.AddrFrom16([16]byte(data[:16]))
	c.IfIndex = int(ne.Uint32(data[16:]))
	return ""
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
	ne.PutUint32(h[cmsgLevelOff:], uint32(int32(level)))
	ne.PutUint32(h[cmsgTypeOff:], uint32(int32(typ)))
	return oob, h[cmsgDataOff : cmsgDataOff+n]
}

// AppendSegmentSize appends to oob a UDP_SEGMENT control message that
// makes the kernel send a message's payload as datagrams of size bytes
// each, the last possibly shorter (UDP GSO, Linux 4.18+), and returns the
// extended buffer. It allocates only when oob lacks the capacity (24
// bytes at most). A size of 0 asks for no segmentation: the kernel sends
// the payload as one datagram, and so does Conn.WriteBatch.
//
// Conn.WriteBatch sends such a message as one super-buffer; if the kernel
// or device refuses GSO, it sends the segments as plain datagrams instead
// (see Conn.GSODisabled). On FreeBSD, which has no GSO, it always does.
// Other senders (Sendmmsg, net.UDPConn) must not be given this control
// message on FreeBSD.
func AppendSegmentSize(oob []byte, size uint16) []byte {
	oob, data := appendCmsg(oob, unix.IPPROTO_UDP, udpSegment, 2)
	ne.PutUint16(data, size)
	return oob
}

// AppendTOS appends to oob a control message that sends a message with
// the TOS byte (IPv4) or traffic class (IPv6) tos, whose two low bits are
// the ECN codepoint (ECNECT0, ...), and returns the extended buffer. dst
// is the message's destination: an IPv4 or v4-mapped address gives IP_TOS
// (also on an AF_INET6 socket), any other IPV6_TCLASS. It allocates only
// when oob lacks the capacity (24 bytes at most).
func AppendTOS(oob []byte, dst netip.Addr, tos byte) []byte {
	if dst.Is4() || dst.Is4In6() {
		oob, data := appendCmsg(oob, unix.IPPROTO_IP, unix.IP_TOS, ipTOSSendSize)
		if ipTOSSendSize == 1 {
			data[0] = tos
		} else {
			ne.PutUint32(data, uint32(tos))
		}
		return oob
	}
	oob, data := appendCmsg(oob, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4)
	ne.PutUint32(data, uint32(tos))
	return oob
}

// AppendPacketInfo appends to oob a control message that sends a message
// from the source address src and, if ifIndex is not 0, out of that
// interface, and returns the extended buffer; to choose only the
// interface, pass the unspecified address of the family (0.0.0.0 or ::).
// An IPv4 src gives IP_PKTINFO on Linux (IP_SENDSRCADDR on FreeBSD, which
// ignores ifIndex there); any other valid src gives IPV6_PKTINFO (on
// Linux a v4-mapped src selects the source of an IPv4 datagram sent from
// an AF_INET6 socket). The zero Addr appends nothing. It allocates only
// when oob lacks the capacity (40 bytes at most).
func AppendPacketInfo(oob []byte, src netip.Addr, ifIndex int) []byte {
	switch {
	case src.Is4():
		return appendInet4PacketInfo(oob, src.As4(), ifIndex)
	case src.Is6():
		oob, data := appendCmsg(oob, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
		a := src.As16()
		copy(data, a[:])
		ne.PutUint32(data[16:], uint32(ifIndex))
		return oob
	}
	return oob
}

// cmsgFind returns the payload of the first control message of the given
// level and type in oob and its bounds [start, end) (end includes the
// padding), or ok == false if there is none or oob does not parse.
func cmsgFind(oob []byte, level, typ int) (data []byte, start, end int, ok bool) {
	for off := 0; len(oob)-off >= cmsgHdrLen; {
		rest := oob[off:]
		var l uint64
		if cmsgLenSize == 8 {
			l = ne.Uint64(rest)
		} else {
			l = uint64(ne.Uint32(rest))
		}
		if l < cmsgDataOff || l > uint64(len(rest)) {
			return nil, 0, 0, false
		}
		next := off + min(cmsgAlign(int(l)), len(rest))
		if int(int32(ne.Uint32(rest[cmsgLevelOff:]))) == level &&
			int(int32(ne.Uint32(rest[cmsgTypeOff:]))) == typ {
			return rest[cmsgDataOff:l], off, next, true
		}
		off = next
	}
	return nil, 0, 0, false
}

// segmentSize returns the size of the UDP_SEGMENT control message in oob
// and its bounds, or ok == false if there is none.
func segmentSize(oob []byte) (size, start, end int, ok bool) {
	data, start, end, ok := cmsgFind(oob, unix.IPPROTO_UDP, udpSegment)
	if !ok || len(data) != 2 {
		return 0, 0, 0, false
	}
	return int(ne.Uint16(data)), start, end, true
}
