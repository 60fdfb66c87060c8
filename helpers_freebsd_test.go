package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD sockaddrs start with their own length.
func setSockaddrLen4(rsa *unix.RawSockaddrInet4) { rsa.Len = unix.SizeofSockaddrInet4 }
func setSockaddrLen6(rsa *unix.RawSockaddrInet6) { rsa.Len = unix.SizeofSockaddrInet6 }

// threadID and signalThread aim a signal at one OS thread: thr_self(2) and
// thr_kill(2), FreeBSD's gettid and tgkill.
func threadID() int {
	var id int // C long: the size of Go's int on every FreeBSD target
	unix.RawSyscall(unix.SYS_THR_SELF, uintptr(unsafe.Pointer(&id)), 0, 0)
	return id
}

func signalThread(tid int, sig unix.Signal) error {
	if _, _, e := unix.RawSyscall(unix.SYS_THR_KILL, uintptr(tid), uintptr(sig), 0); e != 0 {
		return e
	}
	return nil
}

// queuedBytes is the number of bytes of all the datagrams queued on fd:
// FreeBSD's FIONREAD on a socket gives sbavail of the receive buffer.
func queuedBytes(fd int) (int, error) {
	// FIONREAD is _IOR('f', 127, int) (sys/sys/filio.h); x/sys lacks it.
	const fionread = 0x4004667f
	return unix.IoctlGetInt(fd, fionread)
}
