package xsyslayout

import (
	"unsafe"

	"github.com/go-mmsg/mmsg"
	"golang.org/x/sys/unix"
)

// x/sys has no Mmsghdr for FreeBSD. Importing mmsg compiles its own
// layout_freebsd.go checks against this (newest) x/sys's unix.Msghdr; these
// repeat the two that matter most here, so that the check does not depend on
// what mmsg keeps. (Equality as in layout_linux.go.)

var _ = func(m mmsg.Mmsghdr) unix.Msghdr { return m.Hdr }

var (
	// msg_len (a ssize_t) right after the whole msghdr, no tail padding.
	_ [unsafe.Offsetof(mmsg.Mmsghdr{}.Len) - uintptr(unix.SizeofMsghdr)]struct{}
	_ [uintptr(unix.SizeofMsghdr) - unsafe.Offsetof(mmsg.Mmsghdr{}.Len)]struct{}
	_ [uintptr(mmsg.SizeofMmsghdr) - (unix.SizeofMsghdr + unsafe.Sizeof(uintptr(0)))]struct{}
	_ [(unix.SizeofMsghdr + unsafe.Sizeof(uintptr(0))) - uintptr(mmsg.SizeofMmsghdr)]struct{}

	// Same MSG_WAITFORONE.
	_ [uintptr(mmsg.MSG_WAITFORONE) - uintptr(unix.MSG_WAITFORONE)]struct{}
	_ [uintptr(unix.MSG_WAITFORONE) - uintptr(mmsg.MSG_WAITFORONE)]struct{}
)
