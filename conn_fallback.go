package mmsg

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
)

// This file is the portable Conn of the systems without recvmmsg/sendmmsg
// support in mmsg (conn_other.go): one datagram per system call through
// the methods of *net.UDPConn. It builds everywhere, so that the Linux
// tests exercise it too.

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

func buffersLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
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
// len(ms) > 0.
func (f fallbackConn) writeBatch(ms []Message, flags int) (int, error) {
	if flags != 0 {
		return 0, errConnFlags
	}
	for i := range ms {
		m := &ms[i]
		var n int
		var err error
		switch len(m.Buffers) {
		case 0:
			n, _, err = f.c.WriteMsgUDPAddrPort(nil, m.OOB, m.Addr)
		case 1:
			n, _, err = f.c.WriteMsgUDPAddrPort(m.Buffers[0], m.OOB, m.Addr)
		default:
			p := getBounce(buffersLen(m.Buffers))
			k := 0
			for _, b := range m.Buffers {
				k += copy((*p)[k:], b)
			}
			n, _, err = f.c.WriteMsgUDPAddrPort(*p, m.OOB, m.Addr)
			bouncePool.Put(p)
		}
		if err != nil {
			return i, err
		}
		m.N = n
	}
	return len(ms), nil
}
