package mmsg

import (
	"math"
	"sync/atomic"
	"time"
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
// so mmsg waits in ppoll instead (see recvmmsg). It returns the name of the
// system call it made, for the error: "recvmmsg", or "recvmsg" once the
// loop has taken over.
func recvBatch(fd int, msgs []Mmsghdr, flags int) (int, string, error) {
	n, looped, err := mmsgCall(unix.SYS_RECVMMSG, &noRecvmmsg, recvLoop, fd, msgs, flags)
	if echo := flags & echoedFlags; echo != 0 {
		for i := range n {
			stripEcho(&msgs[i].Hdr, echo, int(msgs[i].Len))
		}
	}
	if looped {
		return n, "recvmsg", err
	}
	return n, "recvmmsg", err
}

// sendBatch sends with the sendmmsg(2) system call. After a message or
// more, the kernel returns the count and drops whatever error stopped the
// batch (a full queue included), so only an error with nothing sent
// reaches the caller. It returns the name of the system call it made:
// "sendmmsg", or "sendmsg" once the loop has taken over.
func sendBatch(fd int, msgs []Mmsghdr, flags int) (int, string, error) {
	n, looped, err := mmsgCall(unix.SYS_SENDMMSG, &noSendmmsg, sendLoop, fd, msgs, flags)
	if looped {
		return n, "sendmsg", err
	}
	return n, "sendmmsg", err
}

// recvCall and sendCall name the system call the next batch makes, for
// an error found before it is made (a message the kernel would refuse).
func recvCall() string {
	if noRecvmmsg.Load() {
		return "recvmsg"
	}
	return "recvmmsg"
}

func sendCall() string {
	if noSendmmsg.Load() {
		return "sendmsg"
	}
	return "sendmmsg"
}

// mmsgCall makes the recvmmsg(2) or sendmmsg(2) system call trap for a
// non-empty batch, retrying EINTR: the kernel reports it only when nothing
// was moved, so a retry loses and duplicates nothing. After a partial batch
// the kernel returns the count instead (and keeps a receive error in sk_err
// for the next call).
//
// Once the kernel answers ENOSYS (seccomp sandboxes, gVisor-style
// profiles), *missing is set and every later batch goes through loop, the
// recvmsg/sendmsg loop FreeBSD uses; looped reports that this one did.
func mmsgCall(trap uintptr, missing *atomic.Bool, loop func(int, []Mmsghdr, int) (int, error),
	fd int, msgs []Mmsghdr, flags int) (n int, looped bool, err error) {
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
			return n, false, err
		}
		missing.Store(true)
	}
	n, err = loop(fd, msgs, flags)
	return n, true, err
}

// echoedFlags are the input flags Linux copies into msg_flags: only
// MSG_CMSG_CLOEXEC (net/socket.c, ____sys_recvmsg sets msg_flags to
// flags & (MSG_CMSG_CLOEXEC|MSG_CMSG_COMPAT), and COMPAT is refused).
const echoedFlags = unix.MSG_CMSG_CLOEXEC

// setLen stores a byte count in Mmsghdr.Len, an unsigned int on Linux.
func setLen(p *uint32, n int) { *p = uint32(n) }

// Linux sockaddrs have no length field.
func setSockaddrInet4Len(*unix.RawSockaddrInet4) {}
func setSockaddrInet6Len(*unix.RawSockaddrInet6) {}

// edgeWaiter is the edge-triggered half of waiter (poll.go): an epoll
// instance of its own with the socket registered with EPOLLET. epoll_wait
// then returns when the socket's wait queue is woken (a datagram, an
// error-queue entry, an error, a shutdown), not for a level that stays
// set. Like ppoll, epoll_wait is never restarted after a signal: EINTR.
type edgeWaiter struct {
	epfd int
	on   bool
}

// edgeWaitCall is the system call of edgeWaiter.wait, for its errors.
const edgeWaitCall = "epoll_wait"

// open sets the instance up; on failure it returns the name of the system
// call that failed with the error.
func (e *edgeWaiter) open(fd int) (string, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return "epoll_create1", err
	}
	// Registering reports the present state once: the first wait returns
	// at once if the socket is ready, so nothing that came in between is
	// missed. EPOLLERR and EPOLLHUP are always reported.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLPRI | unix.EPOLLRDHUP | unix.EPOLLET}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(epfd)
		return "epoll_ctl", err
	}
	e.epfd, e.on = epfd, true
	return "", nil
}

// wait waits for the next event for at most d (forever if d < 0), and
// reports whether one came and whether the socket is shut down for reading.
func (e *edgeWaiter) wait(d time.Duration) (ready, hup bool, err error) {
	msec := -1
	if d >= 0 {
		// Rounded up, so as not to wake before the deadline.
		msec = int(min((d+time.Millisecond-1)/time.Millisecond, math.MaxInt32))
	}
	var ev [1]unix.EpollEvent
	n, err := unix.EpollWait(e.epfd, ev[:], msec)
	if err != nil || n == 0 {
		return false, false, err
	}
	return true, ev[0].Events&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0, nil
}

func (e *edgeWaiter) close() {
	if e.on {
		unix.Close(e.epfd)
		e.on = false
	}
}
