package mmsg

import "golang.org/x/sys/unix"

func setSockaddrLen4(*unix.RawSockaddrInet4) {}
func setSockaddrLen6(*unix.RawSockaddrInet6) {}

// threadID and signalThread aim a signal at one OS thread.
func threadID() int { return unix.Gettid() }

func signalThread(tid int, sig unix.Signal) error { return unix.Tgkill(unix.Getpid(), tid, sig) }
