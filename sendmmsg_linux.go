package mmsg

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// noSendmmsg is set once sendmmsg(2) has answered ENOSYS; from then on
// batches go through sendLoop.
var noSendmmsg atomic.Bool

// sendBatch sends with the real sendmmsg(2) system call. The kernel reports
// EINTR only when nothing was sent, so a retry sends nothing twice.
func sendBatch(fd int, msgs []Mmsghdr, flags int) (int, error) {
	if !noSendmmsg.Load() {
		n, err := ignoringEINTR(func() (int, error) {
			n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd),
				uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
			if e != 0 {
				return 0, e
			}
			return int(n), nil
		})
		if err != unix.ENOSYS {
			return n, err
		}
		noSendmmsg.Store(true)
	}
	return sendLoop(fd, msgs, flags)
}
