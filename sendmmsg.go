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
// Any other error that stops a batch after the first message is returned
// with the count on FreeBSD; Linux drops it ("the error code is lost").
// An error tied to the message (EFAULT, EMSGSIZE, ...) is met again by the
// call for msgs[n:]; an asynchronous socket error is not. To a connected
// peer that is gone, Linux takes the pending ECONNREFUSED (the ICMP report
// of an earlier datagram) as the error of message n, which is not sent,
// returns n and drops the error: the call for msgs[n:] sends message n and
// stops at the next, so each call sends one message while the reports come
// back, and the report for the last leaves ECONNREFUSED for the next call
// on the socket. On FreeBSD the report arrives asynchronously, and the
// message that meets it returns it with the count.
//
// Errors are *os.SyscallError values wrapping the errno, named after the
// system call that failed, as package net names them: "sendmmsg" on Linux
// ("sendmsg" where the kernel lacks sendmmsg(2) and the loop takes over),
// "sendmsg" on FreeBSD. A header the kernel would refuse is refused with
// that name before the call.
func Sendmmsg(fd int, msgs []Mmsghdr, flags int) (int, error) {
	n, call, err := sendmmsg(fd, msgs, flags)
	return n, wrapErr(call, asFull(err))
}

// sendmmsg is Sendmmsg with bare errors and the name of the system call
// that failed, for callers inside the package.
func sendmmsg(fd int, msgs []Mmsghdr, flags int) (int, string, error) {
	if len(msgs) == 0 {
		return 0, "", nil
	}
	if len(msgs) > MaxSendBatch {
		msgs = msgs[:MaxSendBatch]
	}
	if err := checkMsgs(msgs); err != nil {
		return 0, sendCall(), err
	}
	return sendBatch(fd, msgs, flags)
}
