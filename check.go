//go:build linux || freebsd

package mmsg

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// checkMsgs rejects, before any system call, headers the kernel would fault
// on. On receive the fault comes too late: the kernel has already taken the
// datagram off the queue, copied it (or tried to) and then fails, so the
// datagram is lost. A nil pointer with a non-zero length is always a caller
// bug, so it is refused with EFAULT for the whole batch, on send too.
// An iovec count past the kernels' limit is refused with EMSGSIZE, as both
// kernels would, before it is used to walk the iovec array.
func checkMsgs(msgs []Mmsghdr) error {
	for i := range msgs {
		h := &msgs[i].Hdr
		if h.Name == nil && h.Namelen != 0 ||
			h.Control == nil && h.Controllen != 0 ||
			h.Iov == nil && h.Iovlen != 0 {
			return unix.EFAULT
		}
		// Iovlen is size_t on Linux and int on FreeBSD: a negative
		// FreeBSD count becomes huge here and is refused too.
		if uint64(h.Iovlen) > maxIovecs {
			return unix.EMSGSIZE
		}
		if h.Iov == nil {
			continue
		}
		for _, v := range unsafe.Slice(h.Iov, int(h.Iovlen)) {
			if v.Base == nil && v.Len != 0 {
				return unix.EFAULT
			}
		}
	}
	return nil
}
