//go:build !linux && !freebsd

package mmsg

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Mmsghdr is one message of a batch, laid out as NetBSD and OpenBSD declare
// struct mmsghdr. mmsg does not call their system calls yet: on this OS
// Recvmmsg and Sendmmsg report errors.ErrUnsupported, and Conn moves one
// datagram per call. The type exists so that portable code builds.
type Mmsghdr struct {
	Hdr Msghdr
	Len uint32
}

// SizeofMmsghdr is the size of Mmsghdr in bytes.
const SizeofMmsghdr = int(unsafe.Sizeof(Mmsghdr{}))

// MSG_WAITFORONE is zero on this OS: Recvmmsg is not supported here.
const MSG_WAITFORONE = 0

// errUnsupported names the OS and matches errors.ErrUnsupported.
var errUnsupported = fmt.Errorf("%w on %s", errors.ErrUnsupported, runtime.GOOS)

// Recvmmsg is not supported on this OS: it returns an *os.SyscallError
// matching errors.ErrUnsupported.
func Recvmmsg(fd int, msgs []Mmsghdr, flags int, timeout *Timespec) (int, error) {
	return 0, wrapErr("recvmmsg", errUnsupported)
}

// Sendmmsg is not supported on this OS: it returns an *os.SyscallError
// matching errors.ErrUnsupported.
func Sendmmsg(fd int, msgs []Mmsghdr, flags int) (int, error) {
	return 0, wrapErr("sendmmsg", errUnsupported)
}
