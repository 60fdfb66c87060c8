package mmsg

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fionread is FIONREAD, _IOR('f', 127, int) in sys/sys/filio.h, which
// x/sys/unix does not define for FreeBSD.
const fionread = 0x4004667f

// queuedPayloadBytes is the payload bytes of all datagrams queued on fd:
// FreeBSD's FIONREAD on a socket is sbavail(so_rcv) - sb_ctl
// (sys/kern/sys_socket.c, soo_ioctl), the data of every queued datagram
// without their addresses and control messages.
func queuedPayloadBytes(t testing.TB, fd int) (int, bool) {
	t.Helper()
	n, err := unix.IoctlGetInt(fd, fionread)
	if err != nil {
		t.Fatalf("ioctl(FIONREAD): %v", err)
	}
	return n, true
}

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
