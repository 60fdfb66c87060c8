//go:build linux || freebsd

package mmsg

import "golang.org/x/sys/unix"

// Recvmmsg receives up to len(msgs) datagrams from the socket fd with as few
// system calls as the OS allows: one recvmmsg(2) on Linux, a recvmsg(2) per
// message on FreeBSD (whose libc does the same). It returns the number of
// messages received; for each, Hdr.Namelen, Hdr.Controllen and Hdr.Flags are
// updated by the kernel and Len holds the datagram's byte count.
//
// The contract, the same on every OS (see the package documentation):
//
//   - len(msgs) == 0 returns (0, nil) without a system call.
//   - n is never negative. When n > 0 the n messages are valid even if err
//     is not nil; an error that ended the batch early is returned either
//     with them or by the next call on the socket, never dropped.
//   - EINTR never surfaces: an interrupted wait for the first datagram is
//     resumed; a signal during a blocking wait for more ends the batch.
//   - A non-blocking socket with nothing queued gives an error matching
//     unix.EAGAIN; running out of datagrams after the first is not an error.
//   - timeout, if not nil, bounds the wait for the first datagram; after it
//     the call takes only what is already queued. Nothing arriving in time
//     gives an error matching os.ErrDeadlineExceeded. A zero timeout polls.
//     A timeout with a negative field or Nsec >= 1e9 gives EINVAL. Readiness
//     with nothing to receive (an entry on Linux's error queue without
//     MSG_ERRQUEUE, normal data with it) is not a datagram: the call
//     sleeps on until one comes or the time is up. After shutdown(SHUT_RD)
//     Linux gives EAGAIN at once; FreeBSD receives an empty message.
//   - flags are MSG_* flags; MSG_WAITFORONE means: block for the first
//     datagram only (on a blocking socket; Go's net sockets never block).
//     With MSG_PEEK every entry of the batch gets the same datagram (the
//     kernels' behaviour). A stream or seqpacket socket at end of file
//     fills every entry with an empty message.
//   - Hdr.Flags says what happened to each message (MSG_TRUNC, MSG_CTRUNC,
//     MSG_ERRQUEUE, ...) and nothing else: the input flags that FreeBSD
//     (all of them) and Linux (MSG_CMSG_CLOEXEC) copy into it are removed.
//   - A header with a nil pointer but a non-zero length gives EFAULT before
//     any datagram is touched.
//
// Errors are *os.SyscallError values wrapping the errno, named after the
// system call that failed, as package net names them: "recvmmsg" on Linux
// ("recvmsg" where the kernel lacks recvmmsg(2) and the loop takes over),
// "recvmsg" on FreeBSD. A header the kernel would refuse is refused with
// that name before the call, and so are an invalid timeout and the
// time-out itself. A wait for the time-out that fails is named after its
// call: "ppoll", or "epoll_wait" (Linux) and "kevent" (FreeBSD) once the
// wait has become edge-triggered ("epoll_create1", "epoll_ctl", "kqueue"
// if setting that up failed).
func Recvmmsg(fd int, msgs []Mmsghdr, flags int, timeout *Timespec) (int, error) {
	n, call, err := recvmmsg(fd, msgs, flags, timeout)
	return n, wrapErr(call, err)
}

// recvmmsg is Recvmmsg with bare errors and the name of the system call
// that failed, for callers inside the package that handle EAGAIN
// themselves and must not allocate.
func recvmmsg(fd int, msgs []Mmsghdr, flags int, timeout *Timespec) (int, string, error) {
	if len(msgs) == 0 {
		// Linux would still consume a pending socket error and FreeBSD
		// libc would receive a message: do neither.
		return 0, "", nil
	}
	if len(msgs) > maxRecvBatch {
		msgs = msgs[:maxRecvBatch]
	}
	if err := checkMsgs(msgs); err != nil {
		return 0, recvCall(), err
	}
	if timeout == nil {
		return recvBatch(fd, msgs, flags)
	}
	// Linux's own timeout argument is checked only after a datagram has
	// arrived, so it never ends a wait. Both OSes therefore receive
	// without blocking and, when nothing is queued, wait (waiter: ppoll,
	// as FreeBSD libc does, then edge-triggered if a level stays set).
	// Receiving first (libc polls first) saves the wait when datagrams
	// are queued, and reports a descriptor that is not a socket as
	// ENOTSOCK instead of polling it until the time-out.
	deadline, err := deadlineOf(timeout)
	if err != nil {
		return 0, recvCall(), err
	}
	w := waiter{fd: fd}
	defer w.close()
	for {
		n, call, err := recvBatch(fd, msgs, flags|unix.MSG_DONTWAIT)
		if err != unix.EAGAIN || w.hup {
			// After shutdown(SHUT_RD) Linux reports the socket
			// readable for good while a receive finds nothing: the
			// EAGAIN is returned, as FreeBSD libc would, rather than
			// waiting until the deadline for nothing.
			return n, call, err
		}
		// Nothing queued, or the wake was not for this receive (a lost
		// race, a level that stays set): wait for what is left of the
		// time, resuming after signals.
		for {
			err = w.wait(deadline)
			if !isEINTR(err) {
				break
			}
		}
		switch {
		case err == errTimeout:
			return 0, call, err // the receive timed out
		case err != nil:
			return 0, w.call, err
		}
	}
}
