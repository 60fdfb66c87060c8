//go:build linux || freebsd

package mmsg

import (
	"os"

	"golang.org/x/sys/unix"
)

// Receive options a Conn can turn on: bits of Conn.opts.
const (
	optGRO = 1 << iota
	optTOS
	optPacketInfo
	optTimestamps
	optDrops
)

// SetGRO turns UDP generic receive offload (UDP_GRO, Linux 5.0+) on or off
// for the Conn's socket. With it on, the kernel may deliver several
// datagrams from one peer, of the same size but the last, as one coalesced
// buffer of up to 64 KiB: give the Messages GROBufferSize-byte buffers
// (a smaller one loses what does not fit: MSG_TRUNC), an OOB of at least
// OOBSize bytes (NewMessages does both), and read each one's Control: its
// SegmentSize says where the datagrams end (Segments walks them). Over
// loopback, a sender's GSO super-buffer (AppendSegmentSize) arrives whole.
// On FreeBSD the error matches errors.ErrUnsupported.
func (c *Conn) SetGRO(on bool) error { return c.setOption(optGRO, on) }

// SetReceiveTOS turns on or off the reception of each datagram's IPv4 TOS
// byte or IPv6 traffic class, and so its ECN codepoint (Control.TOS,
// Control.ECN): IP_RECVTOS, IPV6_RECVTCLASS. An AF_INET6 socket gets both,
// for the IPv4 datagrams it receives as v4-mapped, where the OS allows it.
func (c *Conn) SetReceiveTOS(on bool) error { return c.setOption(optTOS, on) }

// SetReceivePacketInfo turns on or off the reception of each datagram's
// destination address and arrival interface (Control.Dst, Control.IfIndex):
// IP_PKTINFO or IPV6_RECVPKTINFO on Linux; IP_RECVDSTADDR and IP_RECVIF,
// or IPV6_RECVPKTINFO, on FreeBSD.
func (c *Conn) SetReceivePacketInfo(on bool) error { return c.setOption(optPacketInfo, on) }

// SetReceiveTimestamps turns on or off the reception of the time the
// kernel received each datagram (Control.Timestamp): SO_TIMESTAMPNS on
// Linux (SO_TIMESTAMPNS_NEW on 32-bit architectures, past 2038, where the
// kernel has it), SO_TIMESTAMP on FreeBSD.
func (c *Conn) SetReceiveTimestamps(on bool) error { return c.setOption(optTimestamps, on) }

// SetReceiveDropCounter turns on or off the drop counter (SO_RXQ_OVFL,
// Linux): each datagram then carries the number of datagrams the socket
// had dropped (its receive buffer was full) when it was queued, in
// Control.Drops. On FreeBSD the error matches errors.ErrUnsupported.
func (c *Conn) SetReceiveDropCounter(on bool) error { return c.setOption(optDrops, on) }

// OOBSize returns the OOB buffer size a Message needs for the control
// messages of the options turned on with the Conn's Set methods (0 if
// none is). A smaller buffer makes the kernel cut them (MSG_CTRUNC), and
// Message.Control report ErrControlTruncated.
func (c *Conn) OOBSize() int { return oobSize(c.opts.Load(), afOf(c.family)) }

func (c *Conn) setOption(opt int, on bool) error {
	var err error
	if cerr := c.rc.Control(func(fd uintptr) { err = setOption(int(fd), afOf(c.family), opt, on) }); cerr != nil {
		return closedErr("set option", cerr)
	}
	if err != nil {
		return err
	}
	if on {
		c.opts.Or(uint32(opt))
	} else {
		c.opts.And(^uint32(opt))
	}
	return nil
}

// afOf is the AF_* value of a Conn's family.
func afOf(family int) int {
	switch family {
	case familyIPv4:
		return unix.AF_INET
	case familyIPv6:
		return unix.AF_INET6
	}
	return 0
}

// sockopt is a socket option's level and name.
type sockopt struct{ level, name int }

// setFamily sets the IPv4 option v4 on an AF_INET socket and the IPv6
// option v6 on an AF_INET6 one, then, if both, v4 too, ignoring an error
// (an IPv6-only socket, or an OS that refuses it). Any other family gets
// v4, and the kernel's answer.
func setFamily(fd, family, v int, v4, v6 sockopt, both bool) error {
	if family != unix.AF_INET6 {
		return setsockoptInt(fd, v4.level, v4.name, v)
	}
	if err := setsockoptInt(fd, v6.level, v6.name, v); err != nil {
		return err
	}
	if both {
		setsockoptInt(fd, v4.level, v4.name, v)
	}
	return nil
}

func setsockoptInt(fd, level, name, v int) error {
	if err := unix.SetsockoptInt(fd, level, name, v); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	return nil
}
