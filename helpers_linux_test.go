package mmsg

import "golang.org/x/sys/unix"

func setSockaddrLen4(*unix.RawSockaddrInet4) {}
func setSockaddrLen6(*unix.RawSockaddrInet6) {}
