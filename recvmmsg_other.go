//go:build !linux && !freebsd

package mmsg

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"unsafe"
)

// This file is what the systems without batch system calls in mmsg get
// (everything but Linux and FreeBSD): the same exported API, with
// Recvmmsg and Sendmmsg reporting errors.ErrUnsupported and a Conn that
// moves one datagram per call (conn_fallback.go).

// Mmsghdr is one message of a batch, laid out as NetBSD and OpenBSD declare
// struct mmsghdr. mmsg does not call their system calls yet: on this OS
// Recvmmsg and Sendmmsg report errors.ErrUnsupported, and Conn moves one
// datagram per call. The type exists so that portable code builds.
type Mmsghdr struct {
	Hdr Msghdr
	Len uint32
}

// SizeofMmsghdr is the size of Mmsghdr in bytes: the Msghdr, the uint32,
// and the padding up to the struct's alignment, that of a pointer.
const SizeofMmsghdr = (sizeofMsghdr + 4 + ptrSize - 1) &^ (ptrSize - 1)

// ptrSize is the size (and alignment) of a pointer, as an untyped constant.
const ptrSize = 4 << (^uintptr(0) >> 63)

// SizeofMmsghdr is right for this target: a mistake fails the build, as in
// layout_GOOS.go (one of the two array lengths is negative).
var (
	_ [unsafe.Sizeof(Mmsghdr{}) - SizeofMmsghdr]struct{}
	_ [SizeofMmsghdr - unsafe.Sizeof(Mmsghdr{})]struct{}
)

// MSG_WAITFORONE is zero on this OS: Recvmmsg is not supported here.
const MSG_WAITFORONE = 0

// errUnsupported names the OS and matches errors.ErrUnsupported.
var errUnsupported = fmt.Errorf("%w on %s", errors.ErrUnsupported, runtime.GOOS)

// Recvmmsg is not supported on this OS: it returns an *os.SyscallError
// matching errors.ErrUnsupported.
func Recvmmsg(fd int, msgs []Mmsghdr, flags int, timeout *Timespec) (int, error) {
	return 0, wrapErr("recvmmsg", errUnsupported)
}

// Sendmmsg is not supported on this OS: it returns an *os.SyscallError
// matching errors.ErrUnsupported.
func Sendmmsg(fd int, msgs []Mmsghdr, flags int) (int, error) {
	return 0, wrapErr("sendmmsg", errUnsupported)
}

// connSys is the Conn of the systems without batch calls: the one-by-one
// fallback (conn_fallback.go). They have no UDP GSO either.
type connSys struct{ fallbackConn }

func (s *connSys) init(c *Conn, conn syscall.Conn) error {
	f, err := newFallbackConn(conn)
	if err != nil {
		return err
	}
	s.fallbackConn = f
	if a, ok := c.laddr.(*net.UDPAddr); ok {
		c.family = familyIPv4
		if a.IP.To4() == nil {
			c.family = familyIPv6
		}
	}
	c.gso.init(fmt.Errorf("mmsg: UDP GSO: %w on %s", errors.ErrUnsupported, runtime.GOOS))
	return nil
}

func (c *Conn) readBatch(ms []Message, flags int) (int, error) {
	n, err := c.sys.readBatch(ms, flags)
	return n, c.opError("read", nil, err)
}

func (c *Conn) writeBatch(ms []Message, flags int) (int, error) {
	n, err := c.sys.writeBatch(ms, flags)
	return n, c.opError("write", nil, err)
}
