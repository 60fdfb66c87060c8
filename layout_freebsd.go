package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Compile-time checks of ztypes_freebsd_$GOARCH.go against the FreeBSD
// header, struct mmsghdr { struct msghdr msg_hdr; ssize_t msg_len; }, using
// x/sys/unix's Msghdr for the same GOARCH (x/sys has no Mmsghdr for FreeBSD).
// ssize_t is pointer-sized on every FreeBSD arch. If a file is wrong for its
// target, `go build` and `go vet` fail for that GOOS/GOARCH.
//
// Equality of two constants a and b is checked with the pair of array types
// [a - b] and [b - a], computed as uintptr: if a != b one of the two is
// negative, and "constant ... overflows uintptr" stops the build.

// sizeofSsize is sizeof(ssize_t).
const sizeofSsize = unsafe.Sizeof(uintptr(0))

// Hdr is exactly unix.Msghdr, and Len a signed integer (ssize_t): these
// compile only if the field types say so.
var _ = func(m Mmsghdr) unix.Msghdr { ssize(m.Len); return m.Hdr }

func ssize[T int32 | int64](T) {}

var (
	// Go's size of Mmsghdr is the C size cgo measured, and that of a msghdr
	// followed by a ssize_t, with no padding.
	_ [unsafe.Sizeof(Mmsghdr{}) - uintptr(SizeofMmsghdr)]struct{}
	_ [uintptr(SizeofMmsghdr) - unsafe.Sizeof(Mmsghdr{})]struct{}
	_ [uintptr(SizeofMmsghdr) - (unix.SizeofMsghdr + sizeofSsize)]struct{}
	_ [(unix.SizeofMsghdr + sizeofSsize) - uintptr(SizeofMmsghdr)]struct{}

	// msg_hdr comes first, msg_len right after the whole msghdr, and
	// msg_len is a ssize_t.
	_ [unsafe.Offsetof(Mmsghdr{}.Hdr) - 0]struct{}
	_ [0 - unsafe.Offsetof(Mmsghdr{}.Hdr)]struct{}
	_ [unsafe.Offsetof(Mmsghdr{}.Len) - uintptr(unix.SizeofMsghdr)]struct{}
	_ [uintptr(unix.SizeofMsghdr) - unsafe.Offsetof(Mmsghdr{}.Len)]struct{}
	_ [unsafe.Sizeof(Mmsghdr{}.Len) - sizeofSsize]struct{}
	_ [sizeofSsize - unsafe.Sizeof(Mmsghdr{}.Len)]struct{}

	// MSG_WAITFORONE is FreeBSD's 0x80000 (sys/sys/socket.h).
	_ [uintptr(MSG_WAITFORONE) - 0x80000]struct{}
	_ [0x80000 - uintptr(MSG_WAITFORONE)]struct{}
	_ [uintptr(MSG_WAITFORONE) - uintptr(unix.MSG_WAITFORONE)]struct{}
	_ [uintptr(unix.MSG_WAITFORONE) - uintptr(MSG_WAITFORONE)]struct{}
)
