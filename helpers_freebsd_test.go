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

// blockSignals blocks the signals of set on the calling thread and
// returns the mask it had (sigprocmask(2) acts on the calling thread in
// a threaded FreeBSD process); setSignalMask puts a mask back.
func blockSignals(set *unix.Sigset_t) (old unix.Sigset_t, err error) {
	const sigBlock = 1 // SIG_BLOCK, sys/sys/signal.h
	if _, _, e := unix.RawSyscall(unix.SYS_SIGPROCMASK, sigBlock, uintptr(unsafe.Pointer(set)), uintptr(unsafe.Pointer(&old))); e != 0 {
		return old, e
	}
	return old, nil
}

func setSignalMask(mask *unix.Sigset_t) error {
	const sigSetmask = 3 // SIG_SETMASK
	if _, _, e := unix.RawSyscall(unix.SYS_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(mask)), 0); e != 0 {
		return e
	}
	return nil
}

// sigsetFill is every signal that may arrive from elsewhere, for
// quietThread: all but the ones a fault of the thread itself raises.
func sigsetFill(s *unix.Sigset_t) {
	for sig := uint(1); sig < 128; sig++ {
		switch unix.Signal(sig) {
		case unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS, unix.SIGKILL, unix.SIGSTOP:
			continue
		}
		s.Val[(sig-1)/32] |= 1 << ((sig - 1) % 32)
	}
}

// loopbackSegmentsUDP: FreeBSD has no UDP GSO or GRO.
func loopbackSegmentsUDP(testing.TB) bool { return false }

// sendOnOneCPU: FreeBSD's loopback hands every datagram to one netisr
// thread (net.isr.maxthreads is 1 by default), which keeps their order.
func sendOnOneCPU(testing.TB) (restore func()) { return func() {} }

// loopbackDelivered: FreeBSD delivers loopback datagrams asynchronously
// (netisr), and waitQueuedBytes waits for them by their byte count
// (FIONREAD counts every queued datagram there).
func loopbackDelivered(testing.TB) {}
