package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Compile-time checks of ztypes_linux_$GOARCH.go against x/sys/unix's Msghdr
// for the same GOARCH and C's layout rules for
// struct mmsghdr { struct user_msghdr msg_hdr; unsigned int msg_len; }.
// If a generated file is wrong for its target, `go build` and `go vet` fail
// for that GOOS/GOARCH.
//
// They use only what the oldest supported x/sys (go.mod) has. x/sys's own
// unix.Mmsghdr and unix.SizeofMmsghdr came later; the comparison with them
// (field by field, for every Linux GOARCH, at compile time and at run time,
// which is what proves the loong64 file derived from riscv64) lives in the
// nested module .ci/xsyslayout, which requires the newest x/sys and is
// vetted and tested by .ci/test-matrix.sh.
//
// Equality of two constants a and b is checked with the pair of array types
// [a - b] and [b - a], computed as uintptr: if a != b one of the two is
// negative, and "constant ... overflows uintptr" stops the build.

// Hdr is exactly unix.Msghdr and Len an unsigned int: this compiles only if
// the field types say so.
var _ = func(m Mmsghdr) (unix.Msghdr, uint32) { return m.Hdr, m.Len }

const (
	// cMmsghdrAlign and cSizeofMmsghdr: C's alignment and size of struct
	// mmsghdr, from x/sys's msghdr followed by an unsigned int, rounded up
	// to the alignment (tail padding on 64-bit targets).
	cMmsghdrAlign   = max(unsafe.Alignof(unix.Msghdr{}), unsafe.Alignof(uint32(0)))
	cSizeofMmsghdr  = (uintptr(unix.SizeofMsghdr) + 4 + cMmsghdrAlign - 1) / cMmsghdrAlign * cMmsghdrAlign
	linuxWaitForOne = 0x10000 // include/linux/socket.h
)

var (
	// Go's size of Mmsghdr is the C size cgo measured, and the C layout
	// rules applied to x/sys's msghdr give it too.
	_ [unsafe.Sizeof(Mmsghdr{}) - uintptr(SizeofMmsghdr)]struct{}
	_ [uintptr(SizeofMmsghdr) - unsafe.Sizeof(Mmsghdr{})]struct{}
	_ [uintptr(SizeofMmsghdr) - cSizeofMmsghdr]struct{}
	_ [cSizeofMmsghdr - uintptr(SizeofMmsghdr)]struct{}
	_ [unsafe.Alignof(Mmsghdr{}) - cMmsghdrAlign]struct{}
	_ [cMmsghdrAlign - unsafe.Alignof(Mmsghdr{})]struct{}

	// msg_hdr comes first and msg_len right after the whole msghdr.
	_ [unsafe.Offsetof(Mmsghdr{}.Hdr) - 0]struct{}
	_ [0 - unsafe.Offsetof(Mmsghdr{}.Hdr)]struct{}
	_ [unsafe.Offsetof(Mmsghdr{}.Len) - uintptr(unix.SizeofMsghdr)]struct{}
	_ [uintptr(unix.SizeofMsghdr) - unsafe.Offsetof(Mmsghdr{}.Len)]struct{}

	// MSG_WAITFORONE is Linux's 0x10000, and x/sys's.
	_ [uintptr(MSG_WAITFORONE) - linuxWaitForOne]struct{}
	_ [linuxWaitForOne - uintptr(MSG_WAITFORONE)]struct{}
	_ [uintptr(MSG_WAITFORONE) - uintptr(unix.MSG_WAITFORONE)]struct{}
	_ [uintptr(unix.MSG_WAITFORONE) - uintptr(MSG_WAITFORONE)]struct{}
)
