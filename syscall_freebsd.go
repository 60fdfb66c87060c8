package mmsg

import "golang.org/x/sys/unix"

// FreeBSD has neither system call: its libc's recvmmsg and sendmmsg loop
// over recvmsg(2) and sendmsg(2), and so does mmsg (loop.go).

// recvBatch receives with recvLoop, one recvmsg(2) per message.
func recvBatch(fd int, msgs []Mmsghdr, flags int) (int, error) { return recvLoop(fd, msgs, flags) }

// sendBatch sends with sendLoop, one sendmsg(2) per message.
func sendBatch(fd int, msgs []Mmsghdr, flags int) (int, error) { return sendLoop(fd, msgs, flags) }

// setLen stores a byte count in Mmsghdr.Len, a ssize_t on FreeBSD.
func setLen[T int32 | int64](p *T, n int) { *p = T(n) }

// FreeBSD sockaddrs start with their own length (sin_len, sin6_len).
func setSockaddrInet4Len(p *unix.RawSockaddrInet4) { p.Len = unix.SizeofSockaddrInet4 }
func setSockaddrInet6Len(p *unix.RawSockaddrInet6) { p.Len = unix.SizeofSockaddrInet6 }
