package mmsg

import "golang.org/x/sys/unix"

// connForceRcvbuf sets a socket's receive buffer past net.core.rmem_max
// (needs CAP_NET_ADMIN).
func connForceRcvbuf(fd, size int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
}
