package mmsg

import "golang.org/x/sys/unix"

// connForceRcvbuf sets a socket's receive buffer; FreeBSD has no
// SO_RCVBUFFORCE, so kern.ipc.maxsockbuf must allow the size.
func connForceRcvbuf(fd, size int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
}
