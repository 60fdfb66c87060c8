package mmsg

import "golang.org/x/sys/windows"

// Msghdr is Windows' WSAMSG, the nearest thing to struct msghdr there, so
// that code naming Mmsghdr builds on Windows too. Recvmmsg and Sendmmsg
// are not supported on Windows.
type Msghdr = windows.WSAMsg

// Timespec is windows.Timespec, the type of Recvmmsg's time-out.
type Timespec = windows.Timespec

// sizeofMsghdr is the size of WSAMSG, for SizeofMmsghdr in recvmmsg_other.go:
// seven pointer-sized words (name, namelen, buffers, buffer count, the
// control WSABUF's two words, flags, with padding on 64-bit targets).
const sizeofMsghdr = 7 * ptrSize
