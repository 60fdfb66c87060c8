package mmsg

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// connForceRcvbuf sets a socket's receive buffer; FreeBSD has no
// SO_RCVBUFFORCE: kern.ipc.maxsockbuf (2 MiB by default) bounds it, for
// root too.
func connForceRcvbuf(fd, size int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
}

// connRcvbufFor is the receive buffer that holds n datagrams of size
// bytes on loopback: FreeBSD charges the bytes (and, up to eight times
// that, the mbufs: about 512 bytes for a small datagram and its address),
// within kern.ipc.maxsockbuf.
func connRcvbufFor(n, size int) int { return min(max(n*(size+64), 256<<10), 1<<20) }

// kernelDrops counts the datagrams the kernel dropped on the way to UDP
// sockets, fd's included: FreeBSD hands a loopback datagram to a netisr
// thread, whose queue (256 packets) drops what does not fit
// (net.isr.work's qdrops), and a full receive buffer drops at delivery
// (net.inet.udp.stats' udps_fullsock). Both counters are global: the
// tests that use them run alone.
func kernelDrops(t testing.TB, fd int) uint64 {
	t.Helper()
	work, err := unix.SysctlRaw("net.isr.work")
	if err != nil {
		t.Fatalf("sysctl net.isr.work: %v", err)
	}
	// struct sysctl_netisr_work (sys/net/netisr.h): its length first,
	// eight u_ints, then uint64 dispatched, hybrid_dispatched, qdrops.
	var drops uint64
	for len(work) >= 4 {
		size := int(binary.NativeEndian.Uint32(work))
		if size < 56 || size > len(work) {
			t.Fatalf("net.isr.work: entry of %d bytes", size)
		}
		drops += binary.NativeEndian.Uint64(work[48:])
		work = work[size:]
	}
	stats, err := unix.SysctlRaw("net.inet.udp.stats")
	if err != nil {
		t.Fatalf("sysctl net.inet.udp.stats: %v", err)
	}
	// struct udpstat (sys/netinet/udp_var.h): udps_fullsock is its 8th
	// uint64.
	const fullsock = 7 * unsafe.Sizeof(uint64(0))
	if len(stats) < int(fullsock)+8 {
		t.Fatalf("net.inet.udp.stats: %d bytes", len(stats))
	}
	return drops + binary.NativeEndian.Uint64(stats[fullsock:])
}

// connMaxRcvbuf is the largest receive buffer a test asks for: within kern.ipc.maxsockbuf (2 MiB), less its mbuf overhead.
const connMaxRcvbuf = 1 << 20

// asyncSendErrorReported: FreeBSD's sosend_dgram returns the socket's
// pending error (so_error) for the send that finds it.
const asyncSendErrorReported = true
