//go:build linux || freebsd

package mmsg

import "golang.org/x/sys/unix"

// isEINTR reports whether a call was cut short by a signal before it did
// anything. Go's runtime sends SIGURG to preempt goroutines, so this is
// routine, not exceptional: the callers retry.
func isEINTR(err error) bool {
	return err == unix.EINTR || err == errRestartSys
}

// errRestartSys is the kernel-internal ERESTARTSYS (512). Linux's
// do_recvmmsg stores the error that ended a partial batch in sk_err, and a
// signal that interrupts a blocking wait for the second or later datagram
// ends it with -ERESTARTSYS: the next call on the socket then returns 512
// to user space. It means "interrupted", nothing more.
const errRestartSys = unix.Errno(512)

// ignoringEINTR calls fn until it returns something other than an
// interruption, like internal/poll's helper of the same name. fn must have
// done nothing when it reports EINTR: both kernels guarantee that for
// recvmsg, sendmsg, recvmmsg and sendmmsg (an interrupted batch that moved
// messages returns their count instead).
func ignoringEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if !isEINTR(err) {
			return n, err
		}
	}
}

// isFull reports whether a send failed because the socket's send queue is
// full. Linux answers EAGAIN (and ENOBUFS when a qdisc drops a datagram of
// a socket with IP_RECVERR); FreeBSD answers ENOBUFS for an AF_UNIX
// datagram socket whose buffer is full, blocking or not
// (sys/kern/uipc_usrreq.c, uipc_sosend_dgram), and no event ever reports
// it writable again. Inside the package the bare errno is kept, because
// the two call for different waits (see Conn.WriteBatch).
func isFull(err error) bool {
	return err == unix.EAGAIN || err == unix.ENOBUFS
}

// fullError is what Sendmmsg returns (inside its *os.SyscallError) when
// the send queue is full and nothing was sent: one error for both kernels'
// answers. It matches unix.EAGAIN (= EWOULDBLOCK) and unix.ENOBUFS with
// errors.Is, and unwraps to the errno the kernel gave.
type fullError struct{ errno unix.Errno }

func (e *fullError) Error() string   { return e.errno.Error() + " (send queue full)" }
func (e *fullError) Unwrap() error   { return e.errno }
func (e *fullError) Temporary() bool { return true }

// Timeout is false on both OSes: a full queue is not a time-out (the bare
// EAGAIN would say true, ENOBUFS false).
func (e *fullError) Timeout() bool { return false }

func (e *fullError) Is(target error) bool {
	return target == unix.EAGAIN || target == unix.ENOBUFS
}

// The two fullError values: returning them allocates nothing.
var (
	errFullEAGAIN  error = &fullError{unix.EAGAIN}
	errFullENOBUFS error = &fullError{unix.ENOBUFS}
)

// asFull turns a bare full-queue errno into its fullError; any other error
// is returned as it is.
func asFull(err error) error {
	switch err {
	case unix.EAGAIN:
		return errFullEAGAIN
	case unix.ENOBUFS:
		return errFullENOBUFS
	}
	return err
}
