package mmsg

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Linux keeps POLLERR set while the socket's error queue holds an entry (a
// TX timestamp here), although a normal receive finds nothing; with
// MSG_ERRQUEUE it is the other way round, POLLIN stays set for normal data
// the call does not take. A "poll, then receive" loop must not spin there.

// errQueue is a UDP socket that can get entries on its error queue, and a
// socket that sends to it.
type errQueue struct {
	fd, sink int
	addr     netip.AddrPort
	dst      netip.AddrPort // where sending "stamp me" from fd queues an entry
	icmp     bool           // the entry comes with a pending socket error
}

// errQueueSources are two ways to put an entry on a socket's error queue:
// a software TX timestamp of a datagram it sends (SO_TIMESTAMPING, which
// qemu-user does not emulate), and the ICMP port unreachable for a datagram
// it sends to a closed port (IP_RECVERR; the pending socket error that
// comes with it is cleared with SO_ERROR, so that only the entry is left).
var errQueueSources = []struct {
	name string
	make func(t *testing.T, nonblock bool) *errQueue
}{
	{"TXTimestamp", func(t *testing.T, nonblock bool) *errQueue {
		q := newErrQueue(t, nonblock)
		err := unix.SetsockoptInt(q.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING,
			unix.SOF_TIMESTAMPING_TX_SOFTWARE|unix.SOF_TIMESTAMPING_SOFTWARE)
		if err != nil {
			if underQEMU() {
				t.Skipf("qemu-user: setsockopt(SO_TIMESTAMPING): %v", err)
			}
			t.Fatalf("setsockopt(SO_TIMESTAMPING): %v", err)
		}
		sa, err := unix.Getsockname(q.sink)
		if err != nil {
			t.Fatal(err)
		}
		q.dst = addrPortOf(sa)
		return q
	}},
	{"ICMP", func(t *testing.T, nonblock bool) *errQueue {
		q := newErrQueue(t, nonblock)
		if err := unix.SetsockoptInt(q.fd, unix.SOL_IP, unix.IP_RECVERR, 1); err != nil {
			t.Fatalf("setsockopt(IP_RECVERR): %v", err)
		}
		closedFd, closed := udpSocket(t, unix.AF_INET, families[0].addr, true)
		unix.Close(closedFd)
		q.dst, q.icmp = closed, true
		return q
	}},
}

func newErrQueue(t *testing.T, nonblock bool) *errQueue {
	t.Helper()
	q := new(errQueue)
	q.fd, q.addr = udpSocket(t, unix.AF_INET, families[0].addr, nonblock)
	q.sink, _ = udpSocket(t, unix.AF_INET, families[0].addr, true)
	return q
}

// send sends the datagram whose report becomes an error-queue entry.
func (q *errQueue) send() error { return unix.Sendto(q.fd, []byte("stamp me"), 0, sockaddr(q.dst)) }

// add queues an entry: it sends, waits until poll reports the entry
// (POLLERR) and, for ICMP, takes the pending socket error that came with
// it, so that only the entry is left.
func (q *errQueue) add(t *testing.T) {
	t.Helper()
	if err := q.send(); err != nil {
		t.Fatal(err)
	}
	fds := []unix.PollFd{{Fd: int32(q.fd)}}
	deadline := time.Now().Add(10 * time.Second)
	for fds[0].Revents&unix.POLLERR == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no error-queue entry after 10s")
		}
		if _, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
	}
	if q.icmp {
		e, err := unix.GetsockoptInt(q.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		// qemu-user passes SO_ERROR's value on untranslated: the
		// host's errno number, not the target's.
		if err != nil || unix.Errno(e) != unix.ECONNREFUSED && !(underQEMU() && e != 0) {
			t.Fatalf("SO_ERROR = %d, %v; want ECONNREFUSED", e, err)
		}
	}
}

// forEachSource runs test once per error-queue source.
func forEachSource(t *testing.T, nonblock bool, test func(t *testing.T, q *errQueue)) {
	for _, src := range errQueueSources {
		t.Run(src.name, func(t *testing.T) { test(t, src.make(t, nonblock)) })
	}
}

func TestTimedRecvmmsgErrQueueEntryDoesNotSpin(t *testing.T) {
	forEachSource(t, true, func(t *testing.T, q *errQueue) {
		q.add(t)
		readableWithout(t, q.fd, 0, unix.POLLERR)
		checkTimedWaitSleeps(t, q.fd, 0)
	})
}

func TestTimedRecvmmsgErrQueueReadDoesNotSpin(t *testing.T) {
	forEachSource(t, true, func(t *testing.T, q *errQueue) {
		sendTo(t, q.sink, q.addr, []byte("normal data"))
		waitQueued(t, q.fd)
		readableWithout(t, q.fd, unix.MSG_ERRQUEUE, unix.POLLIN)
		checkTimedWaitSleeps(t, q.fd, unix.MSG_ERRQUEUE)
	})
}

func TestTimedRecvmmsgErrQueueWakeIsNotData(t *testing.T) {
	// An entry on the error queue is not a datagram: a timed call without
	// MSG_ERRQUEUE goes on waiting (and sleeping) and returns the datagram
	// that comes later. The entry stays for a MSG_ERRQUEUE reader.
	forEachSource(t, true, func(t *testing.T, q *errQueue) {
		q.add(t)
		var rs [2]callResult
		for i, d := range waitLengths {
			timer := time.AfterFunc(d, func() { unix.Sendto(q.sink, []byte("late"), 0, sockaddr(q.addr)) })
			defer timer.Stop()
			b := newBatch(2, 64)
			rs[i] = measured(t, func() (int, error) { return Recvmmsg(q.fd, b.msgs, 0, &unix.Timespec{Sec: 30}) })
			if r := rs[i]; r.n != 1 || r.err != nil || string(b.payload(0)) != "late" {
				t.Fatalf("Recvmmsg = %d, %v, %q; want 1, nil, \"late\"", r.n, r.err, b.payload(0))
			}
			if b.msgs[0].Hdr.Flags != 0 {
				t.Errorf("flags %#x; want 0", b.msgs[0].Hdr.Flags)
			}
		}
		checkSleeps(t, rs[0], rs[1])

		eb := newBatch(1, 64)
		n, err := Recvmmsg(q.fd, eb.msgs, unix.MSG_ERRQUEUE, &unix.Timespec{})
		if n != 1 || err != nil || eb.msgs[0].Hdr.Flags&unix.MSG_ERRQUEUE == 0 {
			t.Fatalf("Recvmmsg(MSG_ERRQUEUE) = %d, %v, flags %#x; want the entry", n, err, eb.msgs[0].Hdr.Flags)
		}
		if !bytes.Contains(eb.payload(0), []byte("stamp me")) {
			t.Errorf("error queue entry %q; want the datagram sent", eb.payload(0))
		}
	})
}

func TestTimedRecvmmsgErrQueueReadGetsNewEntry(t *testing.T) {
	// The other way round: with normal data keeping POLLIN set, a timed
	// MSG_ERRQUEUE call sleeps until an entry arrives and returns it.
	forEachSource(t, true, func(t *testing.T, q *errQueue) {
		sendTo(t, q.sink, q.addr, []byte("normal data"))
		waitQueued(t, q.fd)
		var rs [2]callResult
		for i, d := range waitLengths {
			timer := time.AfterFunc(d, func() { q.send() })
			defer timer.Stop()
			b := newBatch(2, 64)
			rs[i] = measured(t, func() (int, error) { return Recvmmsg(q.fd, b.msgs, unix.MSG_ERRQUEUE, &unix.Timespec{Sec: 30}) })
			if r := rs[i]; r.n != 1 || r.err != nil || b.msgs[0].Hdr.Flags&unix.MSG_ERRQUEUE == 0 {
				t.Fatalf("Recvmmsg(MSG_ERRQUEUE) = %d, %v, flags %#x; want 1 entry", r.n, r.err, b.msgs[0].Hdr.Flags)
			}
		}
		checkSleeps(t, rs[0], rs[1])
		// The normal datagram is still there.
		nb := newBatch(2, 64)
		if n, err := Recvmmsg(q.fd, nb.msgs, 0, nil); n != 1 || err != nil || string(nb.payload(0)) != "normal data" {
			t.Fatalf("Recvmmsg = %d, %v, %q; want the normal datagram", n, err, nb.payload(0))
		}
	})
}

func TestRecvLoopWaitForMoreDoesNotSpin(t *testing.T) {
	// The loop's wait for the rest of a batch on a blocking socket (the
	// ENOSYS fallback) meets the same state: it must sleep too.
	forEachSource(t, false, func(t *testing.T, q *errQueue) {
		q.add(t)
		var rs [2]callResult
		for i, d := range waitLengths {
			sendTo(t, q.sink, q.addr, []byte("one"))
			waitQueuedBytes(t, q.fd, 3)
			timer := time.AfterFunc(d, func() { unix.Sendto(q.sink, []byte("two"), 0, sockaddr(q.addr)) })
			defer timer.Stop()
			b := newBatch(2, 64)
			rs[i] = measured(t, func() (int, error) {
				defer quietThread(t)() // a signal would end the wait (see quietThread)
				return recvLoop(q.fd, b.msgs, 0)
			})
			if r := rs[i]; r.n != 2 || r.err != nil || string(b.payload(0)) != "one" || string(b.payload(1)) != "two" {
				t.Fatalf("recvLoop = %d, %v, %q, %q; want 2, nil, \"one\", \"two\"", r.n, r.err, b.payload(0), b.payload(1))
			}
		}
		checkSleeps(t, rs[0], rs[1])
	})
}
