package mmsg

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// udpFullsock is FreeBSD's count of UDP datagrams dropped because the
// receiving socket's buffer was full: udps_fullsock, the eighth uint64 of
// struct udpstat (sys/netinet/udp_var.h), read through net.inet.udp.stats.
func udpFullsock(t *testing.T) uint64 {
	t.Helper()
	b, err := unix.SysctlRaw("net.inet.udp.stats")
	if err != nil || len(b) < 8*8 {
		t.Fatalf("sysctl net.inet.udp.stats: %d bytes, %v", len(b), err)
	}
	return binary.NativeEndian.Uint64(b[7*8:])
}

// rerrorSocket returns a UDP socket with SO_RERROR whose receive buffer
// has overflowed and been drained. FreeBSD then keeps so_rerror (ENOBUFS)
// set: poll reports POLLIN for good (soreadabledata), while a UDP receive
// (soreceive_dgram) ignores so_rerror and answers EWOULDBLOCK. Only
// getsockopt(SO_ERROR) or a receive through soreceive_generic clears it.
func rerrorSocket(t *testing.T) int {
	t.Helper()
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, true)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RERROR, 1); err != nil {
		t.Fatalf("setsockopt(SO_RERROR): %v", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 2048); err != nil {
		t.Fatalf("setsockopt(SO_RCVBUF): %v", err)
	}
	// 16 datagrams of 512 bytes overflow a 2 KiB buffer; drain what was
	// queued until every datagram is accounted for: received, or dropped
	// as counted by udps_fullsock (the netisr thread delivers them
	// asynchronously). 16 is far below the 256 entries of lo0's queue.
	const sent = 16
	drops0 := udpFullsock(t)
	sendTo(t, sfd, addr, payloads(sent, 512)...)
	received := 0
	b := newBatch(1, 512)
	for deadline := time.Now().Add(20 * time.Second); ; {
		b.reset()
		n, err := recvLoop(fd, b.msgs, unix.MSG_DONTWAIT)
		received += n
		drops := int(udpFullsock(t) - drops0)
		switch {
		case err != nil && err != unix.EAGAIN:
			t.Fatal(err)
		case received+drops > sent:
			t.Fatalf("received %d and %d dropped of %d sent", received, drops, sent)
		case err == unix.EAGAIN && received+drops == sent:
			if drops == 0 {
				t.Fatalf("no drop: the %d datagrams fit", sent)
			}
			readableWithout(t, fd, 0, unix.POLLIN)
			return fd
		case time.Now().After(deadline):
			t.Fatalf("after 20s: received %d and %d dropped of %d sent", received, drops, sent)
		case err == unix.EAGAIN:
			time.Sleep(100 * time.Microsecond) // let the netisr thread run
		}
	}
}

func TestTimedRecvmmsgRErrorDoesNotSpin(t *testing.T) {
	fd := rerrorSocket(t)
	checkTimedWaitSleeps(t, fd, 0)
	// The state is real: so_rerror is still set, and SO_ERROR reports it.
	if e, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || unix.Errno(e) != unix.ENOBUFS {
		t.Fatalf("SO_ERROR = %d, %v; want ENOBUFS", e, err)
	}
}
