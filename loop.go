//go:build linux || freebsd

package mmsg

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvLoop receives a batch with one recvmsg(2) per message: FreeBSD libc's
// recvmmsg algorithm, which mmsg uses on FreeBSD (there is no system call)
// and on Linux when recvmmsg(2) answers ENOSYS. It differs from libc where
// libc loses information, leaks its plumbing or cannot be interrupted:
//
//   - libc drops the error that ends a batch after the first message; here
//     it is returned with the count (io.Reader style). A trailing EAGAIN, or
//     a signal while waiting for more, only ends the batch.
//   - libc passes MSG_WAITFORONE on to recvmsg; it is only an instruction
//     to this loop, so the kernel does not see it.
//   - libc waits for messages 2..n in a blocking recvmsg. Go installs its
//     signal handlers with SA_RESTART, and both kernels then restart an
//     interrupted socket wait (FreeBSD: ERESTART, sys/kern/kern_sig.c and
//     soreceive_dgram; Linux: -ERESTARTSYS), so no signal ever ends it.
//     Here messages 2..n are received with MSG_DONTWAIT, and when the
//     caller wants the whole batch (a blocking socket, neither MSG_DONTWAIT
//     nor MSG_WAITFORONE) the loop waits in a waiter (poll.go: ppoll, then
//     edge-triggered if a level stays set), which a signal ends (EINTR,
//     never restarted): the batch ends with what is in hand, as Linux's
//     recvmmsg(2) ends it. SO_RCVTIMEO bounds each such wait, as it
//     bounds the kernel's.
//   - FreeBSD copies the call's input flags into msg_flags; they are
//     removed (stripEcho), so that Flags says what happened to a message.
//
// The caller has checked that len(msgs) > 0 (libc receives one message
// even for an empty vector).
func recvLoop(fd int, msgs []Mmsghdr, flags int) (int, error) {
	// Whether to wait for the rest is settled at the first EAGAIN, since
	// only then does the descriptor's blocking mode matter.
	wantAll := flags&(MSG_WAITFORONE|unix.MSG_DONTWAIT) == 0
	flags &^= MSG_WAITFORONE
	// Nothing received yet: an interruption is retried (a restarted or
	// retried wait loses nothing).
	n, err := ignoringEINTR(func() (int, error) { return recvmsg(fd, &msgs[0].Hdr, flags) })
	if err != nil {
		return 0, err
	}
	received(&msgs[0], flags, n)

	rest := flags | unix.MSG_DONTWAIT
	var more moreWaiter
	defer more.close()
	for i := 1; i < len(msgs); {
		n, err := recvmsg(fd, &msgs[i].Hdr, rest)
		switch {
		case err == nil:
			received(&msgs[i], rest, n)
			more.ready()
			i++
		case err == unix.EAGAIN && wantAll:
			if more.w.hup {
				// Shut down for reading (Linux): a receive that
				// would block answers at once now, with 0 bytes,
				// and that is what the kernel's recvmmsg(2) takes
				// for each further entry. Do the same, without
				// waiting. (FreeBSD's receive returns 0 itself.)
				rest = flags
				continue
			}
			// Messages are in hand: a signal, SO_RCVTIMEO or any
			// failure of the wait only ends the batch.
			if !more.wait(fd, i) {
				return i, nil
			}
		case err == unix.EAGAIN || isEINTR(err):
			return i, nil
		default:
			return i, err
		}
	}
	return len(msgs), nil
}

// received records a message: its byte count in Len, and Hdr.Flags without
// the bits the kernel copied from the input flags.
func received(m *Mmsghdr, flags, n int) {
	setLen(&m.Len, n)
	if echo := flags & echoedFlags; echo != 0 {
		stripEcho(&m.Hdr, echo, n)
	}
}

// stripEcho removes from h.Flags the input bits echo that the kernel copied
// there, so that Flags says what happened to the message. MSG_TRUNC is
// both an input flag (return the real length) and an output flag (the
// datagram was cut): echoed, it is kept only if the length the kernel
// returned, n, exceeds the buffers.
func stripEcho(h *Msghdr, echo, n int) {
	f := int(h.Flags) &^ echo
	if echo&unix.MSG_TRUNC != 0 && uint64(n) > iovBytes(h) {
		f |= unix.MSG_TRUNC
	}
	h.Flags = int32(f)
}

// iovBytes is the total length of h's buffers.
func iovBytes(h *Msghdr) uint64 {
	if h.Iov == nil {
		return 0
	}
	var total uint64
	for _, v := range unsafe.Slice(h.Iov, int(h.Iovlen)) {
		total += uint64(v.Len)
	}
	return total
}

// moreWaiter is recvLoop's wait for the rest of a batch on a blocking
// socket. Its zero value has not looked at the socket yet.
type moreWaiter struct {
	checked  bool // blocking and timeo are known
	blocking bool
	timeo    time.Duration // SO_RCVTIMEO; 0: none
	msg      int           // the message the deadline is for
	deadline time.Time
	w        waiter
}

// wait waits for message i to arrive and reports whether the loop should
// try again; false ends the batch. The descriptor's mode and SO_RCVTIMEO
// are read once, when the queue first runs dry: off the hot path.
func (m *moreWaiter) wait(fd, i int) bool {
	if !m.checked {
		m.checked = true
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		m.blocking = err == nil && fl&unix.O_NONBLOCK == 0
		if !m.blocking {
			return false
		}
		if tv, err := unix.GetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO); err == nil {
			m.timeo = time.Duration(tv.Nano())
		}
		m.w.fd, m.msg = fd, -1
	}
	if m.msg != i {
		// Like the kernel's, the SO_RCVTIMEO time runs per message.
		m.msg = i
		m.deadline = time.Time{}
		if m.timeo > 0 {
			m.deadline = time.Now().Add(m.timeo)
		}
	}
	return m.w.wait(m.deadline) == nil
}

// ready tells the waiter that a message arrived after its last wake.
func (m *moreWaiter) ready() { m.w.ready() }

func (m *moreWaiter) close() { m.w.close() }

// sendLoop sends a batch with one sendmsg(2) per message: FreeBSD libc's
// sendmmsg, used on FreeBSD and on Linux when sendmmsg(2) answers ENOSYS.
// Unlike libc it does not drop the error that stops a batch after the first
// message: it returns it with the count, except a full send queue (EAGAIN,
// or FreeBSD's ENOBUFS: see isFull), which only ends the batch, as Linux's
// sendmmsg(2) ends it.
func sendLoop(fd int, msgs []Mmsghdr, flags int) (int, error) {
	for i := range msgs {
		n, err := ignoringEINTR(func() (int, error) { return sendmsg(fd, &msgs[i].Hdr, flags) })
		if err != nil {
			if i > 0 && isFull(err) {
				err = nil
			}
			return i, err
		}
		setLen(&msgs[i].Len, n)
	}
	return len(msgs), nil
}

// recvmsg and sendmsg are the raw system calls, errno untouched: retrying
// and wrapping happen in the callers. Syscall (not RawSyscall), because
// both may block.

func recvmsg(fd int, h *Msghdr, flags int) (int, error) {
	n, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(h)), uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sendmsg(fd int, h *Msghdr, flags int) (int, error) {
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(h)), uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
