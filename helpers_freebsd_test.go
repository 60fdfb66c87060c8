package mmsg

import "golang.org/x/sys/unix"

// FreeBSD sockaddrs start with their own length.
func setSockaddrLen4(rsa *unix.RawSockaddrInet4) { rsa.Len = unix.SizeofSockaddrInet4 }
func setSockaddrLen6(rsa *unix.RawSockaddrInet6) { rsa.Len = unix.SizeofSockaddrInet6 }
