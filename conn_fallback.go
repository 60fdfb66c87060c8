package mmsg

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
)

// This file is the Conn of the systems without batch calls in mmsg (see
// recvmmsg_other.go): one datagram per system call through the methods of
// *net.UDPConn. It builds everywhere, so that the Linux tests run it too.

// msgUDPConn is the part of *net.UDPConn the portable Conn needs.
type msgUDPConn interface {
	ReadMsgUDPAddrPort(b, oob []byte) (n, oobn, flags int, addr netip.AddrPort, err error)
	WriteMsgUDPAddrPort(b, oob []byte, addr netip.AddrPort) (n, oobn int, err error)
}

// errConnFlags is returned for non-zero flags, which ReadMsgUDPAddrPort and
// WriteMsgUDPAddrPort cannot pass on.
var errConnFlags = fmt.Errorf("mmsg: Conn: MSG_* flags are %w on %s", errors.ErrUnsupported, runtime.GOOS)

// fallbackConn moves one message per system call.
type fallbackConn struct {
	c msgUDPConn
}

func newFallbackConn(c syscall.Conn) (fallbackConn, error) {
	u, ok := c.(msgUDPConn)
	if !ok {
		return fallbackConn{}, fmt.Errorf("mmsg: NewConn: %T has no ReadMsgUDPAddrPort and WriteMsgUDPAddrPort methods: %w on %s",
			c, errors.ErrUnsupported, runtime.GOOS)
	}
	// A closed connection fails here with an error matching net.ErrClosed,
	// as on Linux.
	rc, err := c.SyscallConn()
	if err != nil {
		return fallbackConn{}, err
	}
	if err := rc.Control(func(uintptr) {}); err != nil {
		return fallbackConn{}, err
	}
	return fallbackConn{c: u}, nil
}

// bouncePool holds the buffers that gather the Buffers of a message for a
// write, or receive a datagram to be scattered into them.
var bouncePool = sync.Pool{New: func() any { return new([]byte) }}

func getBounce(size int) *[]byte {
	p := bouncePool.Get().(*[]byte)
	if cap(*p) < size {
		*p = make([]byte, size)
	}
	*p = (*p)[:size]
	return p
}

// readBatch receives one datagram into ms[0]; the caller has checked that
// len(ms) > 0.
func (f fallbackConn) readBatch(ms []Message, flags int) (int, error) {
	if flags != 0 {
		return 0, errConnFlags
	}
	m := &ms[0]
	var (
		n, oobn, rflags int
		addr            netip.AddrPort
		err             error
	)
	switch len(m.Buffers) {
	case 0:
		n, oobn, rflags, addr, err = f.c.ReadMsgUDPAddrPort(nil, m.OOB)
	case 1:
		n, oobn, rflags, addr, err = f.c.ReadMsgUDPAddrPort(m.Buffers[0], m.OOB)
	default:
		p := getBounce(buffersLen(m.Buffers))
		n, oobn, rflags, addr, err = f.c.ReadMsgUDPAddrPort(*p, m.OOB)
		if err == nil {
			rest := (*p)[:min(n, len(*p))]
			for _, b := range m.Buffers {
				rest = rest[copy(b, rest):]
			}
		}
		bouncePool.Put(p)
	}
	if err != nil {
		return 0, err
	}
	m.N, m.NN, m.Flags, m.Addr = n, oobn, rflags, addr
	return 1, nil
}

// writeBatch sends the messages one by one; the caller has checked that
// len(ms) > 0. A message with UDP_SEGMENT goes out as one datagram per
// segment, with its other control messages: these systems have no UDP
// GSO, and would send the payload as one datagram or refuse it.
func (f fallbackConn) writeBatch(ms []Message, flags int) (int, error) {
	if flags != 0 {
		return 0, errConnFlags
	}
	for i := range ms {
		m := &ms[i]
		size, start, end, gso := segmentSize(m.OOB)
		if !gso || size == 0 {
			n, err := f.write(m.Buffers, m.OOB, m.Addr)
			if err != nil {
				return i, err
			}
			m.N = n
			continue
		}
		p := getBounce(buffersLen(m.Buffers) + len(m.OOB))
		payload, oob := (*p)[:0], (*p)[buffersLen(m.Buffers):]
		for _, b := range m.Buffers {
			payload = append(payload, b...)
		}
		oob = append(append(oob[:0], m.OOB[:start]...), m.OOB[end:]...)
		sent := 0
		var err error
		for off := 0; ; off += size { // an empty payload is one empty datagram
			var n int
			n, err = f.write([][]byte{payload[off:min(off+size, len(payload))]}, oob, m.Addr)
			sent += n
			if err != nil || off+size >= len(payload) {
				break
			}
		}
		bouncePool.Put(p)
		if sent > 0 || err == nil {
			m.N = sent
		}
		if err != nil {
			return i, err
		}
	}
	return len(ms), nil
}

// write sends one datagram, gathering several buffers into a pooled one.
func (f fallbackConn) write(bufs [][]byte, oob []byte, addr netip.AddrPort) (int, error) {
	switch len(bufs) {
	case 0:
		n, _, err := f.c.WriteMsgUDPAddrPort(nil, oob, addr)
		return n, err
	case 1:
		n, _, err := f.c.WriteMsgUDPAddrPort(bufs[0], oob, addr)
		return n, err
	}
	p := getBounce(buffersLen(bufs))
	k := 0
	for _, b := range bufs {
		k += copy((*p)[k:], b)
	}
	n, _, err := f.c.WriteMsgUDPAddrPort(*p, oob, addr)
	bouncePool.Put(p)
	return n, err
}

// buffersLen is the number of bytes in bufs.
func buffersLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}
