//go:build !linux && !freebsd

package mmsg

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"
)

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
