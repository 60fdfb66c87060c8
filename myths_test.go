//go:build linux || freebsd

package mmsg

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Three common beliefs about recvmmsg, each false (see the package
// documentation), each shown on a real socket.

// Myth: "recvmmsg receives from several sockets". It takes one descriptor.
// One unconnected socket may receive from many peers in one call, but
// datagrams queued on any other socket stay where they are.
func TestMythSeveralSockets(t *testing.T) {
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, true)
	other, otherAddr := udpSocket(t, unix.AF_INET, families[0].addr, true)
	s1, a1 := udpSocket(t, unix.AF_INET, families[0].addr, true)
	s2, a2 := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sendTo(t, s1, addr, []byte("from s1"))
	sendTo(t, s2, addr, []byte("from s2"))
	sendTo(t, s1, otherAddr, []byte("for the other socket"))
	waitQueuedBytes(t, fd, len("from s1")+len("from s2"))
	waitQueued(t, other)

	b := newBatch(8, 64)
	n, err := Recvmmsg(fd, b.msgs, 0, nil)
	if err != nil || n != 2 {
		t.Fatalf("Recvmmsg = %d, %v; want 2 (one per peer)", n, err)
	}
	if rawAddr(&b.msgs[0].Hdr) != a1 || rawAddr(&b.msgs[1].Hdr) != a2 {
		t.Errorf("sources %v, %v; want %v, %v", rawAddr(&b.msgs[0].Hdr), rawAddr(&b.msgs[1].Hdr), a1, a2)
	}
	ob := newBatch(8, 64)
	if n, err := Recvmmsg(other, ob.msgs, 0, nil); n != 1 || err != nil || string(ob.payload(0)) != "for the other socket" {
		t.Fatalf("the other socket: %d, %v, %q", n, err, ob.payload(0))
	}
}

// Myth: "recvmmsg is worse for small messages". Every entry takes the same
// path as a recvmsg; what a batch saves is per call, so the smaller the
// datagrams, the larger the share saved. Here 64 one-byte datagrams need
// one call instead of 64 (bench/ measures the time).
func TestMythSmallMessages(t *testing.T) {
	fd, addr := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sfd, _ := udpSocket(t, unix.AF_INET, families[0].addr, true)
	sendTo(t, sfd, addr, payloads(64, 1)...)
	waitQueuedBytes(t, fd, 64)
	b := newBatch(64, 1)
	n, err := Recvmmsg(fd, b.msgs, 0, nil)
	if err != nil || n != 64 {
		t.Fatalf("one Recvmmsg call took %d of 64 one-byte datagrams (err %v)", n, err)
	}
	for i := range n {
		if b.msgs[i].Len != 1 || b.msgs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
			t.Fatalf("datagram %d: Len %d flags %#x", i, b.msgs[i].Len, b.msgs[i].Hdr.Flags)
		}
	}
}

// Myth: "on a non-blocking socket recvmmsg fails unless vlen messages are
// queued". It returns what is queued and fails with EAGAIN only when
// nothing is, exactly like recvmsg.
func TestMythNonBlockingNeedsFullBatch(t *testing.T) {
	fd, addr := udpSocket(t, unix.AF_INET6, families[1].addr, true)
	sfd, _ := udpSocket(t, unix.AF_INET6, families[1].addr, true)
	sendTo(t, sfd, addr, payloads(3, 10)...)
	waitQueuedBytes(t, fd, 3*10)
	n, err := Recvmmsg(fd, newBatch(64, 16).msgs, 0, nil)
	if err != nil || n != 3 {
		t.Fatalf("Recvmmsg with 3 of 64 queued = %d, %v; want 3, nil", n, err)
	}
	_, err = Recvmmsg(fd, newBatch(64, 16).msgs, 0, nil)
	checkSyscallError(t, err, recvCall(), unix.EAGAIN)
}
