//go:build unix

package mmsg

import "golang.org/x/sys/unix"

// Msghdr is struct msghdr, the header of one message (Mmsghdr.Hdr). It is
// unix.Msghdr itself, not a copy: values and pointers of the two types mix
// freely.
type Msghdr = unix.Msghdr

// Timespec is struct timespec, the type of Recvmmsg's time-out. It is
// unix.Timespec itself, so &unix.Timespec{...} can be passed as it is.
type Timespec = unix.Timespec

// sizeofMsghdr is the size of Msghdr, for SizeofMmsghdr in recvmmsg_other.go
// (Linux and FreeBSD have generated layouts instead).
//
//lint:ignore U1000 used where recvmmsg_other.go is built
const sizeofMsghdr = unix.SizeofMsghdr
