package mmsg

import (
	"time"

	"golang.org/x/sys/unix"
)

// FreeBSD has neither system call: its libc's recvmmsg and sendmmsg loop
// over recvmsg(2) and sendmsg(2), and so does mmsg (loop.go).

// recvBatch receives with recvLoop, one recvmsg(2) per message; the name
// it returns is that of the system call, for the error.
func recvBatch(fd int, msgs []Mmsghdr, flags int) (int, string, error) {
	n, err := recvLoop(fd, msgs, flags)
	return n, "recvmsg", err
}

// sendBatch sends with sendLoop, one sendmsg(2) per message.
func sendBatch(fd int, msgs []Mmsghdr, flags int) (int, string, error) {
	n, err := sendLoop(fd, msgs, flags)
	return n, "sendmsg", err
}

// recvCall and sendCall name the system call a batch makes, for an error
// found before it is made (a message the kernel would refuse).
func recvCall() string { return "recvmsg" }
func sendCall() string { return "sendmsg" }

// echoedFlags are the input flags FreeBSD copies into msg_flags: all of
// them. sys_recvmsg presets msg_flags to the call's flags, kern_recvit
// hands &msg_flags to soreceive as its flags, and soreceive ORs its own
// bits in (sys/kern/uipc_syscalls.c; uipc_socket.c soreceive_dgram and
// soreceive_generic). MSG_OOB is kept: passed in, it means the data is
// out-of-band, which is also what the kernel sets it for.
const echoedFlags = ^unix.MSG_OOB

// setLen stores a byte count in Mmsghdr.Len, a ssize_t on FreeBSD.
func setLen[T int32 | int64](p *T, n int) { *p = T(n) }

// FreeBSD sockaddrs start with their own length (sin_len, sin6_len).
func setSockaddrInet4Len(p *unix.RawSockaddrInet4) { p.Len = unix.SizeofSockaddrInet4 }
func setSockaddrInet6Len(p *unix.RawSockaddrInet6) { p.Len = unix.SizeofSockaddrInet6 }

// edgeWaiter is the edge-triggered half of waiter (poll.go): a kqueue of
// its own with the socket's EVFILT_READ registered with EV_CLEAR. An event
// is then reported once, and again only after the socket is woken anew (a
// datagram, an error, a shutdown), not for a level that stays set: with
// SO_RERROR, a receive-buffer overflow leaves so_rerror set, which keeps
// poll reporting POLLIN while a UDP receive ignores it (soreadabledata in
// sys/sys/socketvar.h; soreceive_dgram). kevent is never restarted after
// a signal (sys/kern/kern_event.c, kqueue_scan): EINTR. A kqueue is not
// inherited across fork, so it needs no close-on-exec flag.
type edgeWaiter struct {
	kq int
	on bool
}

// edgeWaitCall is the system call of edgeWaiter.wait, for its errors.
const edgeWaitCall = "kevent"

// open sets the kqueue up; on failure it returns the name of the system
// call that failed with the error.
func (e *edgeWaiter) open(fd int) (string, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return "kqueue", err
	}
	// Registering evaluates the filter: the first wait returns at once if
	// the socket is ready, so nothing that came in between is missed.
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], fd, unix.EVFILT_READ, unix.EV_ADD|unix.EV_CLEAR)
	if _, err := unix.Kevent(kq, ch[:], nil, nil); err != nil {
		unix.Close(kq)
		return "kevent", err
	}
	e.kq, e.on = kq, true
	return "", nil
}

// wait waits for the next event for at most d (forever if d < 0), and
// reports whether one came and whether the socket is shut down for reading.
func (e *edgeWaiter) wait(d time.Duration) (ready, hup bool, err error) {
	var ts *unix.Timespec
	if d >= 0 {
		t := unix.NsecToTimespec(int64(d))
		ts = &t
	}
	var ev [1]unix.Kevent_t
	n, err := unix.Kevent(e.kq, nil, ev[:], ts)
	switch {
	case err != nil || n == 0:
		return false, false, err
	case ev[0].Flags&unix.EV_ERROR != 0:
		return false, false, unix.Errno(ev[0].Data)
	}
	return true, ev[0].Flags&unix.EV_EOF != 0, nil
}

func (e *edgeWaiter) close() {
	if e.on {
		unix.Close(e.kq)
		e.on = false
	}
}
