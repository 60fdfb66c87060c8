//go:build linux || freebsd

package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvLoop receives a batch with one recvmsg(2) per message: FreeBSD libc's
// recvmmsg algorithm, which mmsg uses on FreeBSD (there is no system call)
// and on Linux when recvmmsg(2) answers ENOSYS. It differs from libc where
// libc loses information or leaks its plumbing:
//
//   - libc drops the error that ends a batch after the first message; here
//     it is returned with the count (io.Reader style). A trailing EAGAIN, or
//     a signal while waiting for more, only ends the batch.
//   - libc passes MSG_WAITFORONE on to recvmsg; it is only an instruction
//     to this loop, so the kernel does not see it.
//
// The caller has checked that len(msgs) > 0 (libc receives one message
// even for an empty vector).
func recvLoop(fd int, msgs []Mmsghdr, flags int) (int, error) {
	rest := flags &^ MSG_WAITFORONE
	if flags&MSG_WAITFORONE != 0 {
		// After the first message, take only what is queued.
		rest |= unix.MSG_DONTWAIT
	}
	flags &^= MSG_WAITFORONE
	for i := range msgs {
		call := func() (int, error) { return recvmsg(fd, &msgs[i].Hdr, flags) }
		var n int
		var err error
		if i == 0 {
			// Nothing received yet: an interruption is retried.
			n, err = ignoringEINTR(call)
		} else {
			// Messages are in hand: an interruption ends the wait
			// for more, as the kernel's recvmmsg does.
			n, err = call()
		}
		if err != nil {
			if i > 0 && (err == unix.EAGAIN || isEINTR(err)) {
				err = nil
			}
			return i, err
		}
		setLen(&msgs[i].Len, n)
		flags = rest
	}
	return len(msgs), nil
}

// sendLoop sends a batch with one sendmsg(2) per message: FreeBSD libc's
// sendmmsg, used on FreeBSD and on Linux when sendmmsg(2) answers ENOSYS.
// Unlike libc it does not drop the error that stops a batch after the first
// message: it returns it with the count, except a full socket buffer
// (EAGAIN), which only ends the batch.
func sendLoop(fd int, msgs []Mmsghdr, flags int) (int, error) {
	for i := range msgs {
		n, err := ignoringEINTR(func() (int, error) { return sendmsg(fd, &msgs[i].Hdr, flags) })
		if err != nil {
			if i > 0 && err == unix.EAGAIN {
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
