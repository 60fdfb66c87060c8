package mmsg

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// noRecvmmsg is set once recvmmsg(2) has answered ENOSYS (seccomp sandboxes
// such as gVisor profiles or container runtimes may forbid it); from then on
// batches go through recvLoop.
var noRecvmmsg atomic.Bool

// recvBatch receives with the real recvmmsg(2) system call. The kernel
// timeout is never passed (see recvmmsg). The kernel reports EINTR only
// when nothing was received, so a retry loses nothing; after a partial
// batch it returns the count and keeps any other error in sk_err for the
// next call.
func recvBatch(fd int, msgs []Mmsghdr, flags int) (int, error) {
	if !noRecvmmsg.Load() {
		n, err := ignoringEINTR(func() (int, error) {
			n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd),
				uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
			if e != 0 {
				return 0, e
			}
			return int(n), nil
		})
		if err != unix.ENOSYS {
			return n, err
		}
		noRecvmmsg.Store(true)
	}
	return recvLoop(fd, msgs, flags)
}
