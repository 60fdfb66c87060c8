package mmsg

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noRecvmmsg is set once recvmmsg(2) has answered ENOSYS.
var noRecvmmsg atomic.Bool

// recvBatch receives with the real recvmmsg(2) system call. Its timeout
// argument is never passed: it is checked only after a datagram arrives,
// so mmsg waits in ppoll instead (see recvmmsg).
func recvBatch(fd int, msgs []Mmsghdr, flags int) (int, error) {
	return mmsgCall(unix.SYS_RECVMMSG, &noRecvmmsg, recvLoop, fd, msgs, flags)
}
