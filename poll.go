//go:build linux || freebsd

package mmsg

import (
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pollIn is what a wait asks ppoll for. FreeBSD libc also asks for
// POLLRDNORM and POLLRDBAND: both kernels set RDNORM together with IN for a
// readable socket, and RDBAND means out-of-band data, which datagram
// sockets do not have (and x/sys/unix lacks those names on Linux).
// POLLRDHUP is asked for so that a socket shut down for reading can be told
// apart from a lost race (see recvmmsg). POLLERR is always reported.
const pollIn = unix.POLLIN | unix.POLLPRI | unix.POLLRDHUP

// deadlineOf validates a time-out and turns it into a deadline on Go's
// monotonic clock, so that the remaining time can be recomputed after every
// interruption without drifting with the wall clock.
func deadlineOf(ts *Timespec) (time.Time, error) {
	sec, nsec := int64(ts.Sec), int64(ts.Nsec)
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return time.Time{}, unix.EINVAL
	}
	d := time.Duration(math.MaxInt64) // about 292 years: "forever"
	if sec < int64(d/time.Second) {
		d = time.Duration(sec)*time.Second + time.Duration(nsec)
	}
	return time.Now().Add(d), nil
}

// waiter waits until a socket may have something to read. The raw layer
// waits in two places, both here: a timed Recvmmsg before its first
// datagram, and recvLoop for the rest of a batch on a blocking socket.
// The caller receives without blocking after every wake and waits again
// if that finds nothing.
//
// The first wait is one ppoll, as FreeBSD libc's recvmmsg makes. But a
// poll level can stay set with nothing behind it that the caller's receive
// would take: on Linux, POLLERR while an entry waits on the error queue (a
// TX timestamp, a MSG_ZEROCOPY completion, an IP_RECVERR report) and a
// normal receive answers EAGAIN, or POLLIN for normal data while the call
// asks for MSG_ERRQUEUE; on FreeBSD, POLLIN while so_rerror (SO_RERROR)
// is set, which a UDP receive ignores. Polling that level again would
// return at once, for as long as the call lasts: a spin. So once a wake
// was followed by nothing to receive, the waiter moves to an
// edge-triggered instance of its own (edgeWaiter: epoll with EPOLLET on
// Linux, kqueue with EV_CLEAR on FreeBSD), which sleeps until something
// new happens on the socket or the time is up. That costs three system
// calls more, on that path only (if the instance cannot be made, EMFILE
// say, wait returns that error). A wake with nothing to receive means
// nothing to the caller: it is not a datagram, and an error-queue entry
// stays queued for a MSG_ERRQUEUE receive.
//
// The one level that is not waited out is a shutdown for reading (Linux):
// hup tells the caller, and a socket that will never receive again is not
// waited on. A timed Recvmmsg returns the EAGAIN; recvLoop takes what a
// blocking receive returns then (0 bytes, at once), as the kernel does.
type waiter struct {
	fd   int
	woke bool   // the last wait ended with the socket reported ready
	hup  bool   // the last wake reported POLLRDHUP or POLLHUP
	call string // the system call of the last wait, for its error
	edge edgeWaiter
}

// ready tells the waiter that the receive after its last wake found
// something, so that wake was no stuck level.
func (w *waiter) ready() { w.woke = false }

// wait waits until the socket may be readable (nil), the deadline passes
// (errTimeout; a zero deadline never passes) or a signal arrives (EINTR,
// never restarted: the caller decides whether to wait again).
func (w *waiter) wait(deadline time.Time) error {
	w.call = "ppoll"
	if w.fd < 0 || w.fd > math.MaxInt32 {
		// poll(2) silently skips negative descriptors and would
		// report a time-out instead of the caller's mistake.
		return unix.EBADF
	}
	if w.woke && !w.edge.on {
		if call, err := w.edge.open(w.fd); err != nil {
			w.call = call
			return err
		}
	}
	for {
		d := time.Duration(-1) // forever
		if !deadline.IsZero() {
			d = max(0, time.Until(deadline))
		}
		var ready, hup bool
		var err error
		if w.edge.on {
			w.call = edgeWaitCall
			ready, hup, err = w.edge.wait(d)
		} else {
			ready, hup, err = pollOnce(w.fd, d)
		}
		switch {
		case err != nil:
			return err
		case ready:
			w.woke, w.hup = true, hup
			return nil
		case d >= 0 && time.Until(deadline) <= 0:
			return errTimeout
		}
		// epoll's millisecond time-out ended just before the deadline.
	}
}

// close releases the edge-triggered instance, if the waiter made one.
func (w *waiter) close() { w.edge.close() }

// pollOnce is one ppoll for fd, for at most d (forever if d < 0).
func pollOnce(fd int, d time.Duration) (ready, hup bool, err error) {
	pfd := unix.PollFd{Fd: int32(fd), Events: pollIn}
	var ts *Timespec
	if d >= 0 {
		t := unix.NsecToTimespec(int64(d))
		ts = &t
	}
	n, err := ppoll(&pfd, ts)
	switch {
	case err != nil || n == 0:
		return false, false, err
	case pfd.Revents&unix.POLLNVAL != 0:
		return false, false, unix.EBADF
	}
	return true, pfd.Revents&(unix.POLLHUP|unix.POLLRDHUP) != 0, nil
}

// ppoll is the raw ppoll(2) for one descriptor, errno untouched. A nil
// signal mask leaves the thread's mask alone, so the size argument (Linux
// only; FreeBSD has four arguments) is 0. Neither kernel restarts ppoll
// after a signal handler ran (SA_RESTART or not): it fails with EINTR.
func ppoll(pfd *unix.PollFd, ts *Timespec) (int, error) {
	n, _, e := unix.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(pfd)), 1, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
