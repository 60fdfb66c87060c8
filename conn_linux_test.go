package mmsg

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// connForceRcvbuf sets a socket's receive buffer past net.core.rmem_max
// (needs CAP_NET_ADMIN).
func connForceRcvbuf(fd, size int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
}

// connRcvbufFor is the receive buffer that holds n datagrams of size
// bytes on loopback: Linux charges each its skb's truesize, about 1 KiB
// for a small datagram, and reports twice what was set.
func connRcvbufFor(n, size int) int { return max(n*(size+1024), 1<<20) }

// kernelDrops counts the datagrams the kernel dropped on the way to fd.
// On Linux a loopback datagram is either queued on the socket before
// sendto returns or dropped there, when the receive buffer is full:
// SO_MEMINFO's drop count.
func kernelDrops(t testing.TB, fd int) uint64 {
	t.Helper()
	var mi [unix.SK_MEMINFO_VARS]uint32
	l := uint32(unsafe.Sizeof(mi))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&mi)), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		t.Fatalf("getsockopt(SO_MEMINFO): %v", e)
	}
	return uint64(mi[unix.SK_MEMINFO_DROPS])
}

// connMaxRcvbuf is the largest receive buffer a test asks for: SO_RCVBUFFORCE takes any size.
const connMaxRcvbuf = 1 << 30

// asyncSendErrorReported: Linux's sendmmsg drops the pending error a
// datagram after the first takes (it counts those before it).
const asyncSendErrorReported = false
