//go:build linux || freebsd

package mmsg

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// connSys is what a Conn keeps on Linux and FreeBSD, besides the RawConn.
type connSys struct {
	// blocking is set once the descriptor turned out to be a blocking
	// one that Go's poller cannot wait on (an *os.File opened without
	// O_NONBLOCK): calls then block their thread in the kernel.
	blocking atomic.Bool

	one atomic.Pointer[one] // the Conn's own one-datagram call state (conn_one.go)

	// oneRead is set for a UDP socket, where recvfrom(2) reports a
	// one-message read as the batch's receive would (see readOne).
	oneRead bool
}

// init learns the socket's type and address family once, with
// getsockopt(SO_TYPE) and getsockname(2), and probes for UDP GSO.
func (s *connSys) init(c *Conn, _ syscall.Conn) error {
	var typ int
	var serr error
	var gso error
	err := c.rc.Control(func(fd uintptr) {
		typ, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
		if serr != nil {
			serr = os.NewSyscallError("getsockopt", serr)
			return
		}
		sa, err := unix.Getsockname(int(fd))
		inet := true
		switch sa.(type) {
		case *unix.SockaddrInet4:
			c.family, c.network = familyIPv4, "udp"
		case *unix.SockaddrInet6:
			c.family, c.network = familyIPv6, "udp"
		default:
			// Another family (AF_UNIX, ...), or one x/sys cannot
			// decode (EAFNOSUPPORT): messages carry no address.
			inet = false
			if err != nil && err != unix.EAFNOSUPPORT {
				serr = os.NewSyscallError("getsockname", err)
			}
		}
		if inet {
			proto, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
			s.oneRead = err == nil && (proto == unix.IPPROTO_UDP || proto == unix.IPPROTO_UDPLITE)
		}
		gso = probeGSO(int(fd))
	})
	if err != nil {
		return closedErr("NewConn", err)
	}
	if serr != nil {
		return serr
	}
	switch typ {
	case unix.SOCK_DGRAM:
	case unix.SOCK_RAW:
		c.network = "ip"
	case unix.SOCK_STREAM:
		return fmt.Errorf("%w (SO_TYPE is SOCK_STREAM)", ErrNotDatagram)
	case unix.SOCK_SEQPACKET:
		return fmt.Errorf("%w (SO_TYPE is SOCK_SEQPACKET)", ErrNotDatagram)
	default:
		return fmt.Errorf("%w (SO_TYPE is %d)", ErrNotDatagram, typ)
	}
	c.gso.init(gso)
	return nil
}

// probeGSO reports whether the kernel segments UDP_SEGMENT messages on the
// socket fd: getsockopt(SOL_UDP, UDP_SEGMENT) succeeds from Linux 4.18 on,
// as wireguard-go and quic-go check. Older kernels ignore the control
// message instead of refusing it, so a GSO buffer would leave as one
// oversized datagram; FreeBSD and sockets other than UDP refuse the
// option. A variable, so that tests can make it answer "absent".
var probeGSO = func(fd int) error {
	if _, err := unix.GetsockoptInt(fd, unix.IPPROTO_UDP, udpSegment); err != nil {
		return fmt.Errorf("mmsg: UDP GSO: %w (getsockopt UDP_SEGMENT: %v)", errors.ErrUnsupported, err)
	}
	return nil
}

// call is what every RawConn callback of a Conn shares with the code that
// runs it (rawRead, rawWrite).
type call struct {
	flags    int    // the caller's MSG_* flags
	blocking bool   // the descriptor is blocking and the poller cannot wait on it
	full     bool   // write: the queue was full (ENOBUFS): back off, then call again
	err      error  // the system call's error
	name     string // the system call that failed with err
}

// callFlags are the flags of a system call for the caller's flags: with
// MSG_DONTWAIT, which a descriptor made blocking (net's File and Fd do
// that) would otherwise lack, so that recvmmsg would wait for a whole
// batch and sendmmsg block its thread; and without it on a descriptor the
// poller cannot wait on, where reads wait for the first datagram only.
func (st *call) callFlags(read bool) int {
	switch {
	case !st.blocking:
		return st.flags | unix.MSG_DONTWAIT
	case read:
		return st.flags | MSG_WAITFORONE
	}
	return st.flags
}

// read is the RawConn.Read callback of a batch: one receive into
// hdrs[:count]. Nothing queued (EAGAIN) returns false: RawConn parks the
// goroutine on the poller until the socket is readable, or returns the
// deadline or close error.
//
// It calls recvBatch, not recvmmsg: packRead built the headers, with 1 to
// maxReadBatch messages, at most maxIovecs iovecs each and a pointer
// behind every non-zero length, so checkMsgs would only repeat it.
func (h *headers) read(fd uintptr) bool {
	n, name, err := recvBatch(int(fd), h.hdrs[:h.count], h.callFlags(true))
	if err == unix.EAGAIN && !h.blocking {
		return false
	}
	h.done, h.err, h.name = n, err, name
	return true
}

// write is the RawConn.Write callback of a batch: it sends
// hdrs[done:count] until all are sent or an error stops them. A full
// queue with nothing sent returns false on EAGAIN (RawConn parks the
// goroutine until the socket is writable) and sets full on ENOBUFS, which
// no poller event follows on FreeBSD.
func (h *headers) write(fd uintptr) bool {
	for h.done < h.count {
		n, name, err := sendBatch(int(fd), h.hdrs[h.done:h.count], h.callFlags(false))
		h.done += n
		h.name = name
		switch {
		case err == unix.EAGAIN && !h.blocking:
			return false
		case err == unix.ENOBUFS:
			h.full = true
			return true
		case err != nil:
			h.err = err
			return true
		case n == 0:
			h.err = io.ErrNoProgress // not reachable with a non-empty batch; never spin
			return true
		}
	}
	return true
}

// Backoff when the kernel answers ENOBUFS: the queue is full and nothing
// will say when it has room. The first retry comes soon (a reader drains
// a queue within microseconds), later ones at most every fullMaxWait, so
// that a deadline or Close is noticed that soon after. Measured on
// FreeBSD 14.2 (3000 datagrams of 256 bytes through an AF_UNIX pair with
// a reader, 6 rounds each, under qemu TCG, medians with spreads of 3-7x):
// 50µs doubling to 1ms took 248ms, 20µs to 2ms 430ms, a fixed 1ms 299ms,
// a fixed 200µs 217ms; the 1ms cap bounds how late a deadline is seen.
const (
	fullMinWait = 50 * time.Microsecond
	fullMaxWait = time.Millisecond
)

// rawRead runs fn through the RawConn: the one place a read waits. fn
// returns false to park on the poller; on a descriptor the poller cannot
// wait on, fn runs again in blocking mode. It returns the RawConn's error
// (deadline, close); the system call's is st.err.
func (c *Conn) rawRead(fn func(uintptr) bool, st *call) error {
	st.blocking = c.sys.blocking.Load()
	err := c.rc.Read(fn)
	if err != nil && !st.blocking && c.notPollable(err) {
		st.blocking = true
		err = c.rc.Read(fn)
	}
	return err
}

// rawWrite is rawRead for writes, the one place a write waits: EAGAIN
// parks on the poller; ENOBUFS is retried after a growing pause, each
// time through a new RawConn.Write, which checks the deadline and Close.
func (c *Conn) rawWrite(fn func(uintptr) bool, st *call) error {
	st.blocking = c.sys.blocking.Load()
	wait := fullMinWait
	for {
		err := c.rc.Write(fn)
		if err != nil && !st.blocking && c.notPollable(err) {
			st.blocking = true
			continue
		}
		if err != nil || !st.full || st.err != nil {
			return err
		}
		st.full = false
		time.Sleep(wait)
		wait = min(2*wait, fullMaxWait)
	}
}

// notPollable reports whether err, from a RawConn that was told to wait,
// means that the poller cannot wait on this descriptor (a blocking file:
// internal/poll says "waiting for unsupported file type"). It then
// switches the Conn to blocking calls.
func (c *Conn) notPollable(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(pollErr(err), net.ErrClosed) {
		return false
	}
	blocking := false
	if c.rc.Control(func(fd uintptr) {
		fl, ferr := unix.FcntlInt(fd, unix.F_GETFL, 0)
		blocking = ferr == nil && fl&unix.O_NONBLOCK == 0
	}) != nil || !blocking {
		return false
	}
	c.sys.blocking.Store(true)
	return true
}

// readBatch is ReadBatch on Linux and FreeBSD: pack, one receive, unpack.
func (c *Conn) readBatch(ms []Message, flags int) (int, error) {
	if isOne(ms, flags, false) && c.sys.oneRead && c.opts.Load() == 0 {
		return c.readOne(&ms[0])
	}
	ms = ms[:min(len(ms), maxReadBatch)]
	h := getHeaders(flags)
	defer h.put()
	if h.packRead(ms, c.family) == 0 {
		return 0, c.opError("read", nil, os.NewSyscallError(recvCall(), unix.EMSGSIZE))
	}
	if err := c.rawRead(h.readFn, &h.call); err != nil {
		return 0, c.opError("read", nil, err) // deadline or closed: nothing was received
	}
	h.unpackRead(ms[:h.done])
	return h.done, c.opError("read", nil, wrapErr(h.name, h.err))
}

// writeBatch is WriteBatch on Linux and FreeBSD: it packs the messages
// into at most MaxSendBatch datagrams at a time (packWrite), sends them
// (send), accounts what went out, and handles a refused GSO datagram.
func (c *Conn) writeBatch(ms []Message, flags int) (int, error) {
	if isOne(ms, flags, true) {
		return c.writeOne(&ms[0])
	}
	h := getHeaders(flags)
	defer h.put()
	info := c.gso.info.Load()
	mode := packMode{offload: info.Offload, maxSegs: info.MaxSegments, splitMsg: -1}
	var cur cursor
	sent := 0 // ms[:sent] are sent
	for cur.msg < len(ms) {
		stop := h.packWrite(ms, &cur, c.family, mode)
		if h.count > 0 {
			err := c.rawWrite(h.writeFn, &h.call)
			sent = c.account(h, ms, sent, &mode)
			if err != nil {
				return sent, c.opError("write", dstAddr(addrAt(ms, sent)), err)
			}
			if h.err != nil {
				if p := h.pieces[h.done]; c.gsoRefused(h.err, &p, &mode) {
					cur = seek(ms, p.msg, p.off) // send the rest of that message again, cut differently
					continue
				}
				return sent, c.opError("write", dstAddr(addrAt(ms, sent)), wrapErr(h.name, h.err))
			}
		}
		if stop != nil {
			return sent, c.opError("write", dstAddr(addrAt(ms, sent)), wrapErr(sendCall(), stop))
		}
	}
	return sent, nil
}

// account sets N of the messages whose datagrams h sent and returns how
// many messages of ms are sent whole. A message's first datagram resets
// its N; each adds its length. A plain datagram of the message whose GSO
// datagram the kernel refused with EIO (mode.splitMsg) proves that GSO
// was the culprit: GSO is turned off for the Conn.
func (c *Conn) account(h *headers, ms []Message, sent int, mode *packMode) int {
	for i := range h.done {
		p := &h.pieces[i]
		m := &ms[p.msg]
		if p.off == 0 && p.last && p.segs == 0 && p.msg != mode.splitMsg {
			m.N = int(h.hdrs[i].Len) // a plain message of one datagram: the hot path
			sent = p.msg + 1
			continue
		}
		if p.off == 0 {
			m.N = 0
		}
		m.N += int(h.hdrs[i].Len)
		if p.last {
			sent = p.msg + 1
		}
		if p.msg == mode.splitMsg && p.segs == 0 {
			c.gso.update(func(info *GSOInfo) {
				info.Offload, info.Reason = false, wrapErr(sendCall(), unix.EIO)
			})
			mode.offload, mode.splitMsg = false, -1
		}
		if mode.learning && p.segs > 1 {
			c.gso.setSegments(mode.maxSegs, 0)
			mode.learning = false
		}
	}
	return sent
}

// gsoRefused decides whether err, the kernel's answer to the GSO datagram
// p, is a refusal that sending the same bytes cut differently may cure,
// and if so changes mode for that: EIO (a device or path that cannot
// segment: IPsec, UDP-Lite, no checksum offload on old kernels) sends
// that message one datagram per segment, and turns GSO off once one of
// them went through (account); EINVAL for more than 64 segments (the
// limit of kernels before UDP_MAX_SEGMENTS was raised to 128) cuts it
// into datagrams of 64, and lowers the Conn's MaxSegments once one went
// through. Any other error, or the same error again, belongs to the
// message and is returned for it; GSO stays on for the next one.
func (c *Conn) gsoRefused(err error, p *piece, mode *packMode) bool {
	switch {
	case p.segs == 0:
		return false
	case err == unix.EIO && mode.splitMsg != p.msg:
		mode.splitMsg = p.msg
		return true
	case err == unix.EINVAL && p.segs > gsoSafeSegments && mode.maxSegs > gsoSafeSegments:
		mode.maxSegs, mode.learning = gsoSafeSegments, true
		return true
	}
	return false
}

// seek returns the cursor at payload byte off of ms[msg].
func seek(ms []Message, msg, off int) cursor {
	cur := cursor{msg: msg, off: off, bo: off}
	for bufs := ms[msg].Buffers; cur.bi < len(bufs) && cur.bo >= len(bufs[cur.bi]); cur.bi++ {
		cur.bo -= len(bufs[cur.bi])
	}
	return cur
}

// dstAddr is a message's destination for an error, or nil (the
// connection's peer) when it has none.
func dstAddr(ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(ap)
}

// addrAt is ms[i].Addr, or the zero AddrPort past the end of ms.
func addrAt(ms []Message, i int) netip.AddrPort {
	if i >= len(ms) {
		return netip.AddrPort{}
	}
	return ms[i].Addr
}
