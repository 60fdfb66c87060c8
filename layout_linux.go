package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Compile-time checks of ztypes_linux_$GOARCH.go against x/sys/unix, whose
// Mmsghdr x/sys generated from the kernel headers of the same GOARCH. If a
// generated file is wrong for its target (or was derived from another arch,
// as loong64 is from riscv64, and the two ever differ), `go build` and
// `go vet` fail for that GOOS/GOARCH.
//
// Equality of two constants a and b is checked with the pair of array types
// [a - b] and [b - a], computed as uintptr: if a != b one of the two is
// negative, and "constant ... overflows uintptr" stops the build.

// Mmsghdr has unix.Mmsghdr's fields Hdr and Len with exactly their types:
// these keyed literals compile only if each field can be assigned to the
// other's without conversion. (The stricter unix.Mmsghdr(Mmsghdr{}) cannot
// be written: on 64-bit targets both structs end in a blank padding field
// `_ [4]byte`, and the spec makes non-exported field names from different
// packages, the blank one included, always different, so the two struct
// types are never identical. The size and offset checks below pin the
// padding instead.)
var _ = func(m Mmsghdr, u unix.Mmsghdr) (unix.Mmsghdr, Mmsghdr) {
	return unix.Mmsghdr{Hdr: m.Hdr, Len: m.Len}, Mmsghdr{Hdr: u.Hdr, Len: u.Len}
}

var (
	// Go's size of Mmsghdr is the C size cgo measured, and x/sys's.
	_ [unsafe.Sizeof(Mmsghdr{}) - uintptr(SizeofMmsghdr)]struct{}
	_ [uintptr(SizeofMmsghdr) - unsafe.Sizeof(Mmsghdr{})]struct{}
	_ [uintptr(SizeofMmsghdr) - uintptr(unix.SizeofMmsghdr)]struct{}
	_ [uintptr(unix.SizeofMmsghdr) - uintptr(SizeofMmsghdr)]struct{}

	// msg_hdr comes first and msg_len right after the whole msghdr, as in
	// struct mmsghdr { struct user_msghdr msg_hdr; unsigned int msg_len; }.
	_ [unsafe.Offsetof(Mmsghdr{}.Hdr) - 0]struct{}
	_ [0 - unsafe.Offsetof(Mmsghdr{}.Hdr)]struct{}
	_ [unsafe.Offsetof(Mmsghdr{}.Len) - uintptr(unix.SizeofMsghdr)]struct{}
	_ [uintptr(unix.SizeofMsghdr) - unsafe.Offsetof(Mmsghdr{}.Len)]struct{}

	// MSG_WAITFORONE is Linux's 0x10000 (include/linux/socket.h).
	_ [uintptr(MSG_WAITFORONE) - 0x10000]struct{}
	_ [0x10000 - uintptr(MSG_WAITFORONE)]struct{}
	_ [uintptr(MSG_WAITFORONE) - uintptr(unix.MSG_WAITFORONE)]struct{}
	_ [uintptr(unix.MSG_WAITFORONE) - uintptr(MSG_WAITFORONE)]struct{}
)

// xsysMmsghdr is x/sys's own Mmsghdr, for layout_test.go to compare Mmsghdr
// with field by field; nil where x/sys has none.
var xsysMmsghdr any = (*unix.Mmsghdr)(nil)
