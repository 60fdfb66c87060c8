//go:build linux || freebsd

package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw system calls, one line each. They return the errno untouched;
// retrying and wrapping happen in the callers. Syscall (not RawSyscall) is
// used throughout because every one of them may block.

func recvmsg(fd int, h *unix.Msghdr, flags int) (int, error) {
	n, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(h)), uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sendmsg(fd int, h *unix.Msghdr, flags int) (int, error) {
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(h)), uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// ppoll waits for one descriptor. A nil signal mask leaves the thread's mask
// alone, so the size argument (Linux only; FreeBSD has four arguments) is 0.
func ppoll(pfd *unix.PollFd, ts *unix.Timespec) (int, error) {
	n, _, e := unix.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(pfd)), 1, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
