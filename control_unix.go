//go:build unix

package mmsg

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The cmsghdr layout and the time structures of this OS and ABI, from
// x/sys: struct cmsghdr { cmsg_len (size_t on Linux, socklen_t on the
// others); int cmsg_level; int cmsg_type; }, headers and payloads aligned
// as x/sys's CMSG_SPACE aligns them (the pointer size, 4 bytes on 64-bit
// darwin and Solaris, 8 on netbsd/arm and openbsd/arm, 16 on netbsd/arm64,
// none on AIX; control_test.go checks them).
const (
	cmsgLenSize = int(unsafe.Sizeof(unix.Cmsghdr{}.Len))
	cmsgHdrLen  = unix.SizeofCmsghdr

	timeTSize = int(unsafe.Sizeof(unix.Timeval{}.Sec))
	usecOff   = int(unsafe.Offsetof(unix.Timeval{}.Usec))
	usecSize  = int(unsafe.Sizeof(unix.Timeval{}.Usec))
	nsecOff   = int(unsafe.Offsetof(unix.Timespec{}.Nsec))
	nsecSize  = int(unsafe.Sizeof(unix.Timespec{}.Nsec))

	sizeofTimeval  = int(unsafe.Sizeof(unix.Timeval{}))
	sizeofTimespec = int(unsafe.Sizeof(unix.Timespec{}))

	// msgCtrunc is the MSG_CTRUNC bit of a received message's flags.
	msgCtrunc = unix.MSG_CTRUNC
)

// cmsgAlignTo is the alignment of cmsg headers and payloads, and
// cmsgDataOff CMSG_LEN(0), as x/sys computes them for this OS (which
// checks the DragonFly ABI at run time).
var (
	cmsgAlignTo = unix.CmsgSpace(1) - unix.CmsgSpace(0)
	cmsgDataOff = unix.CmsgLen(0)
)

// setsockoptInt sets an int socket option on the descriptor fd.
func setsockoptInt(fd uintptr, level, name, v int) error {
	if err := unix.SetsockoptInt(int(fd), level, name, v); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	return nil
}
