//go:build ignore

// Input to cgo -godefs for Linux: the layout of struct mmsghdr and the
// MSG_WAITFORONE flag. mkall.sh consumes this file (piping the output
// through mkpost.go) to produce ztypes_linux_$GOARCH.go.

package mmsg

/*
#define _GNU_SOURCE
#include <sys/socket.h>
*/
import "C"

// Msghdr exists only so that cgo -godefs names the type of Mmsghdr.Hdr;
// mkpost.go removes it and uses unix.Msghdr instead.
type Msghdr C.struct_msghdr

type Mmsghdr C.struct_mmsghdr

const (
	SizeofMmsghdr  = C.sizeof_struct_mmsghdr
	MSG_WAITFORONE = C.MSG_WAITFORONE
)
