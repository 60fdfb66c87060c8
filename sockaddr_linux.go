package mmsg

import "golang.org/x/sys/unix"

// Linux sockaddrs have no length field.
func setSockaddrInet4Len(*unix.RawSockaddrInet4) {}
func setSockaddrInet6Len(*unix.RawSockaddrInet6) {}
