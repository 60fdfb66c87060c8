package mmsg

import (
	"errors"
	"fmt"
	"runtime"
)

// The receive options of a Conn. Each OS describes them in one table,
// rxOptions in control_GOOS.go: which socket options turn each one on for
// each address family, and the OOB bytes its control messages take.
// Adding an option is one entry per OS table, one Control field and its
// decoder (control.go), and its Set method here.

// Receive options: indexes of rxOptions; Conn.opts holds 1<<opt bits.
const (
	optGRO = iota
	optTOS
	optPacketInfo
	optTimestamps
	optDrops
	numOpts
)

// sockopt is one int socket option that turns a receive option on (1) or
// off (0).
type sockopt struct {
	level, name int
	// orNext: if this one fails, set the next one instead; if it
	// works, skip the next one (Linux's SO_TIMESTAMPNS_NEW, then the
	// old SO_TIMESTAMPNS on kernels before 5.1).
	orNext bool
}

// rxOption is how one receive option is turned on, on this OS.
type rxOption struct {
	name string // for errors: "UDP GRO (UDP_GRO)"
	// v4 is set on an AF_INET socket and on one of another family, v6
	// on an AF_INET6 socket; nil means the OS cannot, for that family.
	v4, v6 []sockopt
	// mapped is set too on an AF_INET6 socket, errors ignored: the IPv4
	// option, for OSes that need it for the IPv4 datagrams such a
	// socket receives as v4-mapped.
	mapped []sockopt
	// oob4 and oob6 are the OOB bytes its control messages take in one
	// datagram on an AF_INET (or other) and an AF_INET6 socket.
	oob4, oob6 int
}

// SetGRO turns UDP generic receive offload (UDP_GRO, Linux 5.0+) on or off
// for the Conn's socket. With it on, the kernel may deliver several
// datagrams from one peer, of the same size but the last, as one coalesced
// buffer of up to 64 KiB: give the Messages GROBufferSize-byte buffers
// (a smaller one loses what does not fit: MSG_TRUNC), an OOB of at least
// OOBSize bytes (NewMessages does both), and read each one's Control: its
// SegmentSize says where the datagrams end (Segments walks them); a
// buffer that was not coalesced holds one datagram, with SegmentSize 0.
// Over loopback, what arrives depends on the kernel: from Linux
// 5.11 on, lo carries a sender's GSO datagram (AppendSegmentSize) whole,
// and it arrives as one coalesced buffer, segment size and all; on 5.10
// and older, lo lacks UDP segmentation offload (tx-udp-segmentation in
// `ethtool -k lo`), the kernel segments the GSO datagram in software
// before lo, which has no GRO of its own, and each datagram arrives on
// its own. Either way every datagram arrives, in order. Off Linux the
// error matches errors.ErrUnsupported.
func (c *Conn) SetGRO(on bool) error { return c.setOption(optGRO, on) }

// SetReceiveTOS turns on or off the reception of each datagram's IPv4 TOS
// byte or IPv6 traffic class, and so its ECN codepoint (Control.TOS,
// Control.ECN): IP_RECVTOS, IPV6_RECVTCLASS. An AF_INET6 socket gets it
// for the IPv4 datagrams it receives as v4-mapped too, where the OS allows
// it. Where the OS cannot (see the BUG notes) the error matches
// errors.ErrUnsupported.
func (c *Conn) SetReceiveTOS(on bool) error { return c.setOption(optTOS, on) }

// SetReceivePacketInfo turns on or off the reception of each datagram's
// destination address, arrival interface and reply source (Control.Dst,
// Control.IfIndex, Control.ReplySrc): IP_PKTINFO or IP_RECVPKTINFO where
// the OS has it, else IP_RECVDSTADDR and IP_RECVIF; IPV6_RECVPKTINFO for
// IPv6. Where the OS cannot (see the BUG notes) the error matches
// errors.ErrUnsupported.
func (c *Conn) SetReceivePacketInfo(on bool) error { return c.setOption(optPacketInfo, on) }

// SetReceiveTimestamps turns on or off the reception of the time the
// kernel received each datagram (Control.Timestamp): SO_TIMESTAMPNS on
// Linux (SO_TIMESTAMPNS_NEW, past 2038 on 32-bit architectures, where the
// kernel has it), SO_TIMESTAMP (microseconds) elsewhere. Where the OS
// cannot the error matches errors.ErrUnsupported.
func (c *Conn) SetReceiveTimestamps(on bool) error { return c.setOption(optTimestamps, on) }

// SetReceiveDropCounter turns on or off the drop counter (SO_RXQ_OVFL,
// Linux): each datagram then carries the number of datagrams the socket
// had dropped (its receive buffer was full) when it was queued, in
// Control.Drops. Off Linux the error matches errors.ErrUnsupported.
func (c *Conn) SetReceiveDropCounter(on bool) error { return c.setOption(optDrops, on) }

// OOBSize returns the OOB buffer size a Message needs for the control
// messages of the options turned on with the Conn's Set methods (0 if
// none is). A smaller buffer makes the kernel cut them (MSG_CTRUNC), and
// Message.Control report ErrControlTruncated.
func (c *Conn) OOBSize() int {
	opts, n := c.opts.Load(), 0
	for i := range rxOptions {
		if opts&(1<<i) == 0 {
			continue
		}
		if c.family == familyIPv6 {
			n += rxOptions[i].oob6
		} else {
			n += rxOptions[i].oob4
		}
	}
	return n
}

// setOption turns the receive option opt on or off on the socket, with
// the socket options of this OS's table, and records it for OOBSize.
func (c *Conn) setOption(opt int, on bool) error {
	o := &rxOptions[opt]
	list := o.v4
	if c.family == familyIPv6 {
		list = o.v6
	}
	if len(list) == 0 {
		return fmt.Errorf("mmsg: %s: %w on %s", o.name, errors.ErrUnsupported, runtime.GOOS)
	}
	v := 0
	if on {
		v = 1
	}
	var err error
	cerr := c.rc.Control(func(fd uintptr) {
		if err = setList(fd, list, v); err != nil {
			return
		}
		if c.family == familyIPv6 {
			for _, s := range o.mapped {
				setsockoptInt(fd, s.level, s.name, v) // best effort (an IPv6-only socket)
			}
		}
	})
	if cerr != nil {
		return closedErr("set option", cerr) // closed: matches net.ErrClosed
	}
	if err != nil {
		return err
	}
	if on {
		c.opts.Or(1 << opt)
	} else {
		c.opts.And(^uint32(1 << opt))
	}
	return nil
}

// setList sets the socket options of list to v, in order (see orNext).
func setList(fd uintptr, list []sockopt, v int) error {
	for i := 0; i < len(list); i++ {
		s := list[i]
		err := setsockoptInt(fd, s.level, s.name, v)
		if s.orNext && i+1 < len(list) {
			if err == nil {
				i++ // skip the fallback
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}
