//go:build !linux && !freebsd

package mmsg

import (
	"net"
	"syscall"
)

// connSys is the portable part of Conn on systems where mmsg has no batch
// system calls: one datagram per call through *net.UDPConn's methods.
type connSys struct {
	fallbackConn
	rc     syscall.RawConn
	family int
}

func newConnSys(c syscall.Conn) (connSys, error) {
	f, err := newFallbackConn(c)
	if err != nil {
		return connSys{}, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return connSys{}, err
	}
	// The family of the socket, from its local address: a 4-byte IP is
	// an AF_INET socket, a 16-byte one (v4-mapped included) AF_INET6.
	family := 0
	if la, ok := c.(interface{ LocalAddr() net.Addr }); ok {
		if ua, ok := la.LocalAddr().(*net.UDPAddr); ok && ua != nil {
			switch len(ua.IP) {
			case 4:
				family = familyIPv4
			case 16:
				family = familyIPv6
			}
		}
	}
	return connSys{fallbackConn: f, rc: rc, family: family}, nil
}

// identity returns the RawConn and the portable address family for
// Conn's rc and family fields.
func (s *connSys) identity() (syscall.RawConn, int) { return s.rc, s.family }
