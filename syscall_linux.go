package mmsg

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux has both system calls: recvBatch and sendBatch are one trap each,
// with the recvmsg/sendmsg loop (loop.go) as the fallback where they are
// missing.

// noRecvmmsg and noSendmmsg are set once recvmmsg(2), or sendmmsg(2), has
// answered ENOSYS.
var noRecvmmsg, noSendmmsg atomic.Bool

// recvBatch receives with the recvmmsg(2) system call. Its timeout
// argument is never passed: it is checked only after a datagram arrives,
// so mmsg waits in ppoll instead (see recvmmsg).
func recvBatch(fd int, msgs []Mmsghdr, flags int) (int, error) {
	return mmsgCall(unix.SYS_RECVMMSG, &noRecvmmsg, recvLoop, fd, msgs, flags)
}

// sendBatch sends with the sendmmsg(2) system call.
func sendBatch(fd int, msgs []Mmsghdr, flags int) (int, error) {
	return mmsgCall(unix.SYS_SENDMMSG, &noSendmmsg, sendLoop, fd, msgs, flags)
}

// mmsgCall makes the recvmmsg(2) or sendmmsg(2) system call trap for a
// non-empty batch, retrying EINTR: the kernel reports it only when nothing
// was moved, so a retry loses and duplicates nothing. After a partial batch
// the kernel returns the count instead (and keeps a receive error in sk_err
// for the next call).
//
// Once the kernel answers ENOSYS (seccomp sandboxes, gVisor-style
// profiles), *missing is set and every later batch goes through loop, the
// recvmsg/sendmsg loop FreeBSD uses.
func mmsgCall(trap uintptr, missing *atomic.Bool, loop func(int, []Mmsghdr, int) (int, error),
	fd int, msgs []Mmsghdr, flags int) (int, error) {
	if !missing.Load() {
		n, err := ignoringEINTR(func() (int, error) {
			n, _, e := unix.Syscall6(trap, uintptr(fd),
				uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
			if e != 0 {
				return 0, e
			}
			return int(n), nil
		})
		if err != unix.ENOSYS {
			return n, err
		}
		missing.Store(true)
	}
	return loop(fd, msgs, flags)
}

// setLen stores a byte count in Mmsghdr.Len, an unsigned int on Linux.
func setLen(p *uint32, n int) { *p = uint32(n) }

// Linux sockaddrs have no length field.
func setSockaddrInet4Len(*unix.RawSockaddrInet4) {}
func setSockaddrInet6Len(*unix.RawSockaddrInet6) {}
