package xsyslayout

import (
	"unsafe"

	"github.com/go-mmsg/mmsg"
	"golang.org/x/sys/unix"
)

// Compile-time checks of mmsg's ztypes_linux_$GOARCH.go against x/sys's
// Mmsghdr, which x/sys generated from the kernel headers of the same GOARCH.
//
// Equality of two constants a and b is checked with the pair of array types
// [a - b] and [b - a], computed as uintptr: if a != b one of the two is
// negative, and "constant ... overflows uintptr" stops the build.

// mmsg.Mmsghdr has unix.Mmsghdr's fields Hdr and Len with exactly their
// types: these keyed literals compile only if each field can be assigned to
// the other's without conversion. (The stricter unix.Mmsghdr(mmsg.Mmsghdr{})
// cannot be written: on 64-bit targets both structs end in a blank padding
// field `_ [4]byte`, and the spec makes non-exported field names from
// different packages, the blank one included, always different, so the two
// struct types are never identical. The size, alignment and offset checks
// below pin the padding instead.)
var _ = func(m mmsg.Mmsghdr, u unix.Mmsghdr) (unix.Mmsghdr, mmsg.Mmsghdr) {
	return unix.Mmsghdr{Hdr: m.Hdr, Len: m.Len}, mmsg.Mmsghdr{Hdr: u.Hdr, Len: u.Len}
}

var (
	// Same size (Go's and the C size each side measured), same alignment.
	_ [unsafe.Sizeof(mmsg.Mmsghdr{}) - unsafe.Sizeof(unix.Mmsghdr{})]struct{}
	_ [unsafe.Sizeof(unix.Mmsghdr{}) - unsafe.Sizeof(mmsg.Mmsghdr{})]struct{}
	_ [uintptr(mmsg.SizeofMmsghdr) - uintptr(unix.SizeofMmsghdr)]struct{}
	_ [uintptr(unix.SizeofMmsghdr) - uintptr(mmsg.SizeofMmsghdr)]struct{}
	_ [unsafe.Alignof(mmsg.Mmsghdr{}) - unsafe.Alignof(unix.Mmsghdr{})]struct{}
	_ [unsafe.Alignof(unix.Mmsghdr{}) - unsafe.Alignof(mmsg.Mmsghdr{})]struct{}

	// Same field offsets.
	_ [unsafe.Offsetof(mmsg.Mmsghdr{}.Hdr) - unsafe.Offsetof(unix.Mmsghdr{}.Hdr)]struct{}
	_ [unsafe.Offsetof(unix.Mmsghdr{}.Hdr) - unsafe.Offsetof(mmsg.Mmsghdr{}.Hdr)]struct{}
	_ [unsafe.Offsetof(mmsg.Mmsghdr{}.Len) - unsafe.Offsetof(unix.Mmsghdr{}.Len)]struct{}
	_ [unsafe.Offsetof(unix.Mmsghdr{}.Len) - unsafe.Offsetof(mmsg.Mmsghdr{}.Len)]struct{}

	// Same MSG_WAITFORONE.
	_ [uintptr(mmsg.MSG_WAITFORONE) - uintptr(unix.MSG_WAITFORONE)]struct{}
	_ [uintptr(unix.MSG_WAITFORONE) - uintptr(mmsg.MSG_WAITFORONE)]struct{}
)
