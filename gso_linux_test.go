package mmsg

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// The GSO tests that need the kernel's own GSO (Linux 4.18+).

// TestGSOInvalidMessage: a GSO message the kernel refuses for a reason
// of its own, EINVAL, is that message's error: WriteBatch stops there, N
// of the failed message is untouched, and GSO stays on for the next one.
// Two real refusals: a socket without UDP checksums (SO_NO_CHECK, which
// GSO needs) and a malformed IP_TOS control message.
func TestGSOInvalidMessage(t *testing.T) {
	if !gsoKernel(t) {
		t.Skip("no kernel GSO here: messages are split, the kernel never sees UDP_SEGMENT")
	}
	_, s, rconn, sconn := ctlPair(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	next := 0
	bad := func(oob []byte) []byte {
		oob, data := appendCmsg(oob, unix.IPPROTO_IP, unix.IP_TOS, 3)
		copy(data, "bad")
		return oob
	}
	ms, _ := gsoBuild([]gsoPlan{{0, 100, 1}, {100, 300, 1}, {0, 100, 1}}, connAddr(rconn), &next, nil)
	ms[1].OOB = bad(ms[1].OOB)
	ms[1].N, ms[2].N = -1, -1
	n, err := s.WriteBatch(ms, 0)
	if n != 1 || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("WriteBatch = %d, %v; want 1, EINVAL", n, err)
	}
	if ms[1].N != -1 || ms[2].N != -1 {
		t.Errorf("unsent messages modified: N = %d, %d", ms[1].N, ms[2].N)
	}
	if !s.GSO().Offload {
		t.Errorf("GSO turned off for an error that was not GSO's: %+v", s.GSO())
	}

	connControl(t, sconn, func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1) })
	ms, _ = gsoBuild([]gsoPlan{{1200, 3000, 1}}, connAddr(rconn), &next, nil)
	if n, err := s.WriteBatch(ms, 0); n != 0 || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("GSO without UDP checksums: WriteBatch = %d, %v; want 0, EINVAL", n, err)
	}
	if !s.GSO().Offload {
		t.Errorf("GSO turned off by one socket's EINVAL: %+v", s.GSO())
	}
	connControl(t, sconn, func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 0) })
	if n, err := s.WriteBatch(ms, 0); n != 1 || err != nil {
		t.Fatalf("the next valid GSO message: WriteBatch = %d, %v", n, err)
	}
}

// gsoKernel reports whether this kernel segments UDP_SEGMENT messages.
func gsoKernel(t *testing.T) bool {
	c := connNew(t, connListen(t, "udp4", netip.MustParseAddr("127.0.0.1")))
	return c.GSO().Offload
}

// TestGSOLearnsSegmentLimit: a kernel that refuses a GSO datagram of more
// segments than its UDP_MAX_SEGMENTS (EINVAL) teaches the Conn to send at
// most 64. A Conn told to try 200, more than any kernel takes, meets that
// real refusal on every kernel.
func TestGSOLearnsSegmentLimit(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	if !gsoKernel(t) {
		t.Skip("no kernel GSO here")
	}
	r, s, rconn, _ := ctlPair(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	if !ctlRcvbuf(t, rconn, 16<<20) {
		t.Skip("needs a receive buffer past net.core.rmem_max (root)")
	}
	s.gso.update(func(info *GSOInfo) { info.MaxSegments = 200 })
	next := 0
	ms, want := gsoBuild([]gsoPlan{{0, 10, 1}, {100, 100 * 300, 2}}, connAddr(rconn), &next, nil)
	if n, err := s.WriteBatch(ms, 0); n != 2 || err != nil || ms[1].N != 30000 {
		t.Fatalf("WriteBatch = %d, %v; N = %d", n, err, ms[1].N)
	}
	if info := s.GSO(); !info.Offload || info.MaxSegments != gsoSafeSegments {
		t.Fatalf("GSO() = %+v; want GSO on with MaxSegments %d", info, gsoSafeSegments)
	}
	gsoReceive(t, r, want, nil)
	gsoNothingMore(t, r, rconn)
}
