//go:build linux || freebsd

package mmsg

// Sendmmsg sends the messages in msgs on the socket fd with as few system
// calls as the OS allows: one sendmmsg(2) on Linux, a sendmsg(2) per message
// on FreeBSD. It sends at most MaxSendBatch messages; n < len(msgs) means:
// call again with msgs[n:]. Each sent message's Len is the number of bytes
// sent for it.
//
// As with Recvmmsg: len(msgs) == 0 returns (0, nil) without a system call;
// n is never negative; EINTR never surfaces; a header with a nil pointer but
// a non-zero length gives EFAULT before anything is sent.
//
// A full send queue is one error on both OSes: with nothing sent it
// matches both unix.EAGAIN and unix.ENOBUFS with errors.Is and unwraps to
// the errno the kernel gave (Linux: EAGAIN, or ENOBUFS for a qdisc drop
// with IP_RECVERR; FreeBSD: ENOBUFS for an AF_UNIX datagram socket,
// blocking or not, which no poll or kqueue event ever reports writable
// again). After a message or more, a full queue just ends the batch.
// FreeBSD's UDP has no send-side flow control: a datagram the loopback
// queue has no room for is dropped silently, not refused.
//
// Linux drops any other error that stops a batch after the first message
// ("the error code is lost"); it is met again by the call for msgs[n:].
//
// Errors are *os.SyscallError values named "sendmmsg" wrapping the errno.
func Sendmmsg(fd int, msgs []Mmsghdr, flags int) (int, error) {
	n, err := sendmmsg(fd, msgs, flags)
	return n, wrapErr("sendmmsg", asFull(err))
}

// sendmmsg is Sendmmsg with bare errors, for callers inside the package.
func sendmmsg(fd int, msgs []Mmsghdr, flags int) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	if len(msgs) > MaxSendBatch {
		msgs = msgs[:MaxSendBatch]
	}
	if err := checkMsgs(msgs); err != nil {
		return 0, err
	}
	return sendBatch(fd, msgs, flags)
}
