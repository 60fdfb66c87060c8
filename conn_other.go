//go:build !linux && !freebsd

package mmsg

import "syscall"

// connSys is the portable part of Conn on systems where mmsg has no batch
// system calls: one datagram per call through *net.UDPConn's methods.
type connSys struct {
	fallbackConn
}

func newConnSys(c syscall.Conn) (connSys, error) {
	f, err := newFallbackConn(c)
	return connSys{f}, err
}
