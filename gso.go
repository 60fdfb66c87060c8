package mmsg

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// GSOInfo is how a Conn sends the messages that carry a UDP_SEGMENT control
// message (AppendSegmentSize), as Conn.GSO reports it.
type GSOInfo struct {
	// Offload is true when the kernel cuts such a message into its
	// datagrams (UDP GSO, Linux 4.18+). When it is false, WriteBatch
	// sends one plain datagram per segment itself, with the message's
	// other control messages: the same datagrams, more system calls.
	Offload bool

	// Reason says why Offload is false: an error matching
	// errors.ErrUnsupported when the OS, the kernel or the socket has no
	// UDP GSO (found at NewConn); the *os.SyscallError EIO the kernel
	// gave for a GSO message whose datagrams then went out one by one (a
	// device or path that cannot segment, such as IPsec); nil after
	// SetGSO(false).
	Reason error

	// MaxSegments is the most segments WriteBatch puts into one GSO
	// datagram; a message with more is sent as several, each also at
	// most 65507 bytes (65527 over IPv6). It is the smaller of the
	// kernel's limit and the Conn's own (SetMaxSegments). The kernel's
	// limit, UDP_MAX_SEGMENTS, is 128 from Linux 6.9 (and 6.1.107) and
	// 64 before: it starts at 128 and drops to 64 for good the first
	// time the kernel refuses more (EINVAL) and accepts 64.
	MaxSegments int
}

// Segments per GSO datagram: the current kernels' UDP_MAX_SEGMENTS, and
// the one Linux had from 4.18 until it was raised.
const (
	gsoMaxSegments  = 128
	gsoSafeSegments = 64
)

// gsoState is a Conn's GSOInfo, read by every WriteBatch without a lock
// and replaced as a whole when it changes.
type gsoState struct {
	mu    sync.Mutex // serialises changes
	probe error      // nil if the kernel has UDP GSO on this socket
	info  atomic.Pointer[GSOInfo]

	// Under mu: the two segment limits whose smaller one is
	// info.MaxSegments.
	kernelSegs int // the kernel's, as learned
	userSegs   int // SetMaxSegments's; 0: none
}

func (g *gsoState) init(probe error) {
	g.probe = probe
	g.kernelSegs = gsoMaxSegments
	g.info.Store(&GSOInfo{Offload: probe == nil, Reason: probe, MaxSegments: gsoMaxSegments})
}

// setSegments records the kernel's limit (kernel > 0: lowered to that,
// never raised) or the Conn's own (user > 0), and publishes the smaller.
func (g *gsoState) setSegments(kernel, user int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if kernel > 0 {
		g.kernelSegs = min(g.kernelSegs, kernel)
	}
	if user > 0 {
		g.userSegs = user
	}
	info := *g.info.Load()
	info.MaxSegments = g.kernelSegs
	if g.userSegs > 0 {
		info.MaxSegments = min(info.MaxSegments, g.userSegs)
	}
	g.info.Store(&info)
}

// update applies f to a copy of the state and publishes it.
func (g *gsoState) update(f func(*GSOInfo)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	info := *g.info.Load()
	f(&info)
	g.info.Store(&info)
}

// GSO reports how the Conn sends messages with UDP_SEGMENT: by the
// kernel's GSO or one datagram per segment, and why. A device or path
// that refuses GSO (EIO) turns it off for the whole Conn, once the same
// datagrams went out one by one; nothing else does. SetGSO turns it back
// on or off.
func (c *Conn) GSO() GSOInfo { return *c.gso.info.Load() }

// SetGSO turns the kernel's segmentation of UDP_SEGMENT messages on or
// off for the Conn (see GSO): off, WriteBatch always sends one datagram
// per segment. Turning it on again after a device refused it retries GSO
// on the next message. Where NewConn found no UDP GSO, SetGSO(true)
// returns that error, which matches errors.ErrUnsupported.
func (c *Conn) SetGSO(on bool) error {
	if on && c.gso.probe != nil {
		return c.gso.probe
	}
	c.gso.update(func(info *GSOInfo) { info.Offload, info.Reason = on, nil })
	return nil
}

// SetMaxSegments caps the segments WriteBatch puts into one GSO datagram
// at n (1 or more), for a receiver that takes fewer at a time than the
// kernel can send (wireguard-go's receive path has room for 64; a GSO
// datagram to a GRO receiver on the same host arrives whole, as one
// buffer) or a sender that bounds its bursts. A message with more
// segments is sent as several GSO datagrams of at most n segments each,
// within the same call; its N still counts all its bytes.
//
// The cap composes with the kernel's limit, UDP_MAX_SEGMENTS: the smaller
// one wins, and GSO().MaxSegments reports it. An n at or above the
// kernel's limit (128 always is) removes an earlier cap. An n below 1 is
// refused with an error and changes nothing. The cap holds whether or not
// GSO is on: where the Conn sends one datagram per segment (GSO off, or
// an OS without UDP GSO) it has nothing to cut, so SetMaxSegments is
// accepted on every OS. Calls in progress keep the limit they started
// with.
func (c *Conn) SetMaxSegments(n int) error {
	if n < 1 {
		return fmt.Errorf("mmsg: SetMaxSegments(%d): the segment limit must be at least 1", n)
	}
	c.gso.setSegments(0, min(n, gsoMaxSegments))
	return nil
}
