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
