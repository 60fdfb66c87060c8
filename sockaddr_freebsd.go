package mmsg

import "golang.org/x/sys/unix"

// FreeBSD sockaddrs start with their own length (sin_len, sin6_len).
func setSockaddrInet4Len(p *unix.RawSockaddrInet4) { p.Len = unix.SizeofSockaddrInet4 }
func setSockaddrInet6Len(p *unix.RawSockaddrInet6) { p.Len = unix.SizeofSockaddrInet6 }
