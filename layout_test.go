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
// readable failures.

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

// TestMmsghdrMatchesXsys compares Mmsghdr with x/sys's unix.Mmsghdr field by
// field, where x/sys has one (Linux).
func TestMmsghdrMatchesXsys(t *testing.T) {
	if xsysMmsghdr == nil {
		t.Skipf("x/sys has no Mmsghdr on %s", runtime.GOOS)
	}
	ours := reflect.TypeOf(Mmsghdr{})
	theirs := reflect.TypeOf(xsysMmsghdr).Elem()

	if ours.Size() != theirs.Size() {
		t.Errorf("size of Mmsghdr = %d, of unix.Mmsghdr = %d", ours.Size(), theirs.Size())
	}
	if ours.Align() != theirs.Align() {
		t.Errorf("alignment of Mmsghdr = %d, of unix.Mmsghdr = %d", ours.Align(), theirs.Align())
	}
	if ours.NumField() != theirs.NumField() {
		t.Errorf("Mmsghdr has %d fields, unix.Mmsghdr %d", ours.NumField(), theirs.NumField())
	}
	for i := range min(ours.NumField(), theirs.NumField()) {
		f, g := ours.Field(i), theirs.Field(i)
		if f.Name != g.Name || f.Type != g.Type || f.Offset != g.Offset {
			t.Errorf("field %d: Mmsghdr has %s %v at offset %d, unix.Mmsghdr has %s %v at offset %d",
				i, f.Name, f.Type, f.Offset, g.Name, g.Type, g.Offset)
		}
	}
}

// TestMmsghdrRoundTrip writes through a *Mmsghdr and reads through the
// unix.Mmsghdr view of the same memory, and back, on an array so that the
// stride counts too (Linux).
func TestMmsghdrRoundTrip(t *testing.T) {
	if xsysMmsghdr == nil {
		t.Skipf("x/sys has no Mmsghdr on %s", runtime.GOOS)
	}
	typ := reflect.TypeOf(xsysMmsghdr).Elem()
	msgs := make([]Mmsghdr, 3)
	view := func(i int) reflect.Value {
		return reflect.NewAt(typ, unsafe.Pointer(&msgs[i])).Elem()
	}

	// Constants, not conversions: this file also builds on FreeBSD, where
	// Len is a ssize_t.
	msgs[0].Len, msgs[1].Len, msgs[2].Len = 0x12345670, 0x12345671, 0x12345672
	for i := range msgs {
		msgs[i].Hdr.Flags = int32(i + 1)
	}
	for i := range msgs {
		if got, want := view(i).FieldByName("Len").Uint(), uint64(0x12345670+i); got != want {
			t.Errorf("msgs[%d].Len = %#x written, unix.Mmsghdr view reads %#x", i, want, got)
		}
		if got, want := view(i).FieldByName("Hdr").FieldByName("Flags").Int(), int64(i+1); got != want {
			t.Errorf("msgs[%d].Hdr.Flags = %d written, unix.Mmsghdr view reads %d", i, want, got)
		}
	}

	view(1).FieldByName("Len").SetUint(4242)
	if msgs[1].Len != 4242 {
		t.Errorf("unix.Mmsghdr view wrote Len = 4242, msgs[1].Len reads %d", msgs[1].Len)
	}
	if msgs[0].Len != 0x12345670 || msgs[2].Len != 0x12345672 {
		t.Errorf("writing msgs[1] through the unix.Mmsghdr view changed its neighbours: Len %#x, %#x", msgs[0].Len, msgs[2].Len)
	}
}
