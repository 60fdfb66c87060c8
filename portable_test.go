//go:build !linux && !freebsd

package mmsg

import (
	"errors"
	"os"
	"testing"
	"unsafe"
)

func TestUnsupported(t *testing.T) {
	for name, call := range map[string]func() (int, error){
		"recvmmsg": func() (int, error) { return Recvmmsg(0, make([]Mmsghdr, 1), MSG_WAITFORONE, &Timespec{Sec: 1}) },
		"sendmmsg": func() (int, error) { return Sendmmsg(0, make([]Mmsghdr, 1), 0) },
	} {
		n, err := call()
		var se *os.SyscallError
		if n != 0 || !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &se) || se.Syscall != name {
			t.Errorf("%s = %d, %v; want 0 and an *os.SyscallError matching errors.ErrUnsupported", name, n, err)
		}
	}
	if SizeofMmsghdr != int(unsafe.Sizeof(Mmsghdr{})) || SizeofMmsghdr <= int(unsafe.Sizeof(Msghdr{})) {
		t.Errorf("SizeofMmsghdr = %d for a %d-byte Msghdr", SizeofMmsghdr, unsafe.Sizeof(Msghdr{}))
	}
}
