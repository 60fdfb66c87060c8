package xsyslayout

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/go-mmsg/mmsg"
	"golang.org/x/sys/unix"
)

// Run-time twins of layout_linux.go, with readable failures, plus what a
// constant cannot say: field names and types, and the stride of an array.

// TestMmsghdrMatchesXsys compares mmsg.Mmsghdr with unix.Mmsghdr field by
// field.
func TestMmsghdrMatchesXsys(t *testing.T) {
	ours := reflect.TypeOf(mmsg.Mmsghdr{})
	theirs := reflect.TypeOf(unix.Mmsghdr{})

	if ours.Size() != theirs.Size() {
		t.Errorf("size of mmsg.Mmsghdr = %d, of unix.Mmsghdr = %d", ours.Size(), theirs.Size())
	}
	if ours.Size() != mmsg.SizeofMmsghdr || theirs.Size() != unix.SizeofMmsghdr {
		t.Errorf("mmsg.SizeofMmsghdr = %d, unix.SizeofMmsghdr = %d; Go sizes %d, %d",
			mmsg.SizeofMmsghdr, unix.SizeofMmsghdr, ours.Size(), theirs.Size())
	}
	if ours.Align() != theirs.Align() {
		t.Errorf("alignment of mmsg.Mmsghdr = %d, of unix.Mmsghdr = %d", ours.Align(), theirs.Align())
	}
	if ours.NumField() != theirs.NumField() {
		t.Errorf("mmsg.Mmsghdr has %d fields, unix.Mmsghdr %d", ours.NumField(), theirs.NumField())
	}
	for i := range min(ours.NumField(), theirs.NumField()) {
		f, g := ours.Field(i), theirs.Field(i)
		if f.Name != g.Name || f.Type != g.Type || f.Offset != g.Offset {
			t.Errorf("field %d: mmsg.Mmsghdr has %s %v at offset %d, unix.Mmsghdr has %s %v at offset %d",
				i, f.Name, f.Type, f.Offset, g.Name, g.Type, g.Offset)
		}
	}
	if mmsg.MSG_WAITFORONE != unix.MSG_WAITFORONE {
		t.Errorf("mmsg.MSG_WAITFORONE = %#x, unix.MSG_WAITFORONE = %#x", mmsg.MSG_WAITFORONE, unix.MSG_WAITFORONE)
	}
}

// TestMmsghdrRoundTrip writes through a []mmsg.Mmsghdr and reads through
// the []unix.Mmsghdr view of the same memory, and back, so that the stride
// counts too.
func TestMmsghdrRoundTrip(t *testing.T) {
	msgs := make([]mmsg.Mmsghdr, 3)
	view := unsafe.Slice((*unix.Mmsghdr)(unsafe.Pointer(&msgs[0])), len(msgs))

	for i := range msgs {
		msgs[i].Len = uint32(0x12345670 + i)
		msgs[i].Hdr.Flags = int32(i + 1)
	}
	for i := range view {
		if got, want := view[i].Len, uint32(0x12345670+i); got != want {
			t.Errorf("msgs[%d].Len = %#x written, unix.Mmsghdr view reads %#x", i, want, got)
		}
		if got, want := view[i].Hdr.Flags, int32(i+1); got != want {
			t.Errorf("msgs[%d].Hdr.Flags = %d written, unix.Mmsghdr view reads %d", i, want, got)
		}
	}

	view[1].Len = 4242
	if msgs[1].Len != 4242 {
		t.Errorf("unix.Mmsghdr view wrote Len = 4242, msgs[1].Len reads %d", msgs[1].Len)
	}
	if msgs[0].Len != 0x12345670 || msgs[2].Len != 0x12345672 {
		t.Errorf("writing view[1] changed its neighbours: Len %#x, %#x", msgs[0].Len, msgs[2].Len)
	}
}
