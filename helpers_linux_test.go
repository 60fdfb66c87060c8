package mmsg

import "golang.org/x/sys/unix"

func setSockaddrLen4(*unix.RawSockaddrInet4) {}
func setSockaddrLen6(*unix.RawSockaddrInet6) {}

// threadID and signalThread aim a signal at one OS thread.
func threadID() int { return unix.Gettid() }

func signalThread(tid int, sig unix.Signal) error { return unix.Tgkill(unix.Getpid(), tid, sig) }

// queuedBytes: Linux delivers loopback datagrams before sendto returns,
// and FIONREAD gives only the first datagram's size; poll tells whether
// anything is queued.
func queuedBytes(fd int) (int, error) {
	return 1 << 30, nil
}
