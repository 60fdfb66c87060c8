package mmsg

import (
	"os"
	"syscall"
)

// timeoutError is what a call returns when its time-out or deadline passes
// before a message could be moved. It matches os.ErrDeadlineExceeded and
// ETIMEDOUT with errors.Is, and reports Timeout() == true, like the errors
// of package net. (Only the batch OSes produce it.)
//
//lint:ignore U1000 used on Linux and FreeBSD only (poll.go)
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded || target == syscall.ETIMEDOUT
}

// errTimeout is the single timeoutError value; comparing against it is cheap.
//
//lint:ignore U1000 used on Linux and FreeBSD only (poll.go)
var errTimeout error = timeoutError{}

// wrapErr turns an error of the internal layers into the form the exported
// functions promise: nil stays nil, anything else becomes an
// *os.SyscallError named after the call, wrapping the errno (or errTimeout)
// so that errors.Is sees through it.
func wrapErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return &os.SyscallError{Syscall: name, Err: err}
}
