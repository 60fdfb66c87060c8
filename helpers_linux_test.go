package mmsg

import (
	"testing"

	"golang.org/x/sys/unix"
)

// queuedPayloadBytes reports whether the bytes queued on fd can be known:
// not on Linux, whose FIONREAD gives the size of the first datagram only.
// Nothing is needed there: Linux delivers a loopback datagram before the
// sending call returns, so once one is queued (waitQueued), all are.
func queuedPayloadBytes(testing.TB, int) (int, bool) { return 0, false }

func setSockaddrLen4(*unix.RawSockaddrInet4) {}
func setSockaddrLen6(*unix.RawSockaddrInet6) {}

// threadID and signalThread aim a signal at one OS thread.
func threadID() int { return unix.Gettid() }

func signalThread(tid int, sig unix.Signal) error { return unix.Tgkill(unix.Getpid(), tid, sig) }
