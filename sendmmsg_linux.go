package mmsg

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noSendmmsg is set once sendmmsg(2) has answered ENOSYS.
var noSendmmsg atomic.Bool

// sendBatch sends with the real sendmmsg(2) system call.
func sendBatch(fd int, msgs []Mmsghdr, flags int) (int, error) {
	return mmsgCall(unix.SYS_SENDMMSG, &noSendmmsg, sendLoop, fd, msgs, flags)
}
