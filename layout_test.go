//go:build linux || freebsd

package mmsg

import (
	"reflect"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Run-time twins of the compile-time checks in layout_$GOOS.go, with
// readable failures. The field-by-field comparison with x/sys's own
// unix.Mmsghdr (Linux) needs a newer x/sys than go.mod's: it is in the nested
// module .ci/xsyslayout.

func TestMmsghdrLayout(t *testing.T) {
	var m Mmsghdr
	size := unsafe.Sizeof(m)
	if size != SizeofMmsghdr {
		t.Errorf("unsafe.Sizeof(Mmsghdr{}) = %d, SizeofMmsghdr = %d", size, SizeofMmsghdr)
	}
	if off := unsafe.Offsetof(m.Hdr); off != 0 {
		t.Errorf("Mmsghdr.Hdr at offset %d, want 0", off)
	}
	if got := reflect.TypeOf(m.Hdr); got != reflect.TypeOf(unix.Msghdr{}) {
		t.Errorf("Mmsghdr.Hdr is %v, want unix.Msghdr", got)
	}
	if off := unsafe.Offsetof(m.Len); off != unix.SizeofMsghdr {
		t.Errorf("Mmsghdr.Len at offset %d, want unix.SizeofMsghdr = %d", off, unix.SizeofMsghdr)
	}

	lenKind := reflect.TypeOf(m.Len).Kind()
	switch runtime.GOOS {
	case "linux":
		// struct mmsghdr { struct user_msghdr msg_hdr; unsigned int msg_len; }
		if lenKind != reflect.Uint32 {
			t.Errorf("Mmsghdr.Len is %v, want uint32 (unsigned int)", lenKind)
		}
		// C pads the struct to its alignment (4 bytes of tail on 64-bit).
		align := max(unsafe.Alignof(m.Hdr), unsafe.Alignof(m.Len))
		if want := (unix.SizeofMsghdr + 4 + align - 1) / align * align; size != want {
			t.Errorf("unsafe.Sizeof(Mmsghdr{}) = %d, want unix.SizeofMsghdr + 4 rounded up to %d = %d", size, align, want)
		}
		if want := uintptr(0x10000); MSG_WAITFORONE != want {
			t.Errorf("MSG_WAITFORONE = %#x, want %#x", MSG_WAITFORONE, want)
		}
	case "freebsd":
		// struct mmsghdr { struct msghdr msg_hdr; ssize_t msg_len; }, and
		// ssize_t is pointer-sized.
		ssize := unsafe.Sizeof(uintptr(0))
		if lenKind != reflect.Int32 && lenKind != reflect.Int64 {
			t.Errorf("Mmsghdr.Len is %v, want a signed integer (ssize_t)", lenKind)
		}
		if got := unsafe.Sizeof(m.Len); got != ssize {
			t.Errorf("unsafe.Sizeof(Mmsghdr.Len) = %d, want sizeof(ssize_t) = %d", got, ssize)
		}
		if want := unix.SizeofMsghdr + ssize; size != want {
			t.Errorf("unsafe.Sizeof(Mmsghdr{}) = %d, want unix.SizeofMsghdr + sizeof(ssize_t) = %d", size, want)
		}
		if want := uintptr(0x80000); MSG_WAITFORONE != want {
			t.Errorf("MSG_WAITFORONE = %#x, want %#x", MSG_WAITFORONE, want)
		}
	}
}
