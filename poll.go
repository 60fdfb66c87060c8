//go:build linux || freebsd

package mmsg

import (
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pollIn is what the wait before the first datagram asks for. FreeBSD libc
// also asks for POLLRDNORM and POLLRDBAND: both kernels set RDNORM together
// with IN for a readable socket, and RDBAND means out-of-band data, which
// datagram sockets do not have (and x/sys/unix lacks those names on Linux).
// POLLRDHUP is asked for so that a socket shut down for reading can be told
// apart from a lost race (see recvmmsg).
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

// waitReadable waits until fd has something to read (a datagram or a
// pending error) or the deadline passes, like the ppoll that FreeBSD libc's
// recvmmsg makes before its first recvmsg. Unlike libc it retries EINTR with
// the time that is left, and a time-out is errTimeout, not a zero count.
// It returns the events ppoll reported.
func waitReadable(fd int, deadline time.Time) (int16, error) {
	if fd < 0 || fd > math.MaxInt32 {
		// poll(2) silently skips negative descriptors and would
		// report a time-out instead of the caller's mistake.
		return 0, unix.EBADF
	}
	for {
		pfd := unix.PollFd{Fd: int32(fd), Events: pollIn}
		ts := unix.NsecToTimespec(max(0, int64(time.Until(deadline))))
		n, err := ppoll(&pfd, &ts)
		switch {
		case isEINTR(err):
			continue // a signal: wait again for what is left of the time
		case err != nil:
			return 0, err
		case n == 0:
			return 0, errTimeout
		case pfd.Revents&unix.POLLNVAL != 0:
			return 0, unix.EBADF
		}
		return pfd.Revents, nil
	}
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
