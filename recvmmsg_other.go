//go:build unix && !linux && !freebsd

package mmsg

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Mmsghdr is struct mmsghdr as NetBSD and OpenBSD declare it. mmsg does not
// call their system calls yet: Recvmmsg and Sendmmsg report
// errors.ErrUnsupported here. The type exists so that portable code builds.
type Mmsghdr struct {
	Hdr unix.Msghdr
	Len uint32
}

// MSG_WAITFORONE is zero on this OS: Recvmmsg is not supported here.
const MSG_WAITFORONE = 0

// errUnsupported names the OS and matches errors.ErrUnsupported.
var errUnsupported = fmt.Errorf("%w on %s", errors.ErrUnsupported, runtime.GOOS)

// Recvmmsg is not supported on this OS: it returns an *os.SyscallError
// matching errors.ErrUnsupported.
func Recvmmsg(fd int, msgs []Mmsghdr, flags int, timeout *unix.Timespec) (int, error) {
	return 0, wrapErr("recvmmsg", errUnsupported)
}

// Sendmmsg is not supported on this OS: it returns an *os.SyscallError
// matching errors.ErrUnsupported.
func Sendmmsg(fd int, msgs []Mmsghdr, flags int) (int, error) {
	return 0, wrapErr("sendmmsg", errUnsupported)
}
