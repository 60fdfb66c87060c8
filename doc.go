// Package mmsg moves batches of datagrams with recvmmsg(2) and sendmmsg(2)
// on Linux and FreeBSD behind one contract.
//
// Two layers:
//
//   - Conn, over any datagram syscall.Conn (*net.UDPConn first): ReadBatch
//     and WriteBatch park on Go's netpoller, honour deadlines, take
//     net/netip addresses and allocate nothing per call.
//   - Recvmmsg and Sendmmsg, thin wrappers for a raw descriptor with the
//     layouts of struct mmsghdr generated per OS and architecture (Mmsghdr).
//
// On top of Conn: UDP GSO (AppendSegmentSize, with a transparent fallback
// to plain datagrams) and GRO (Conn.SetGRO, Segments), and control messages
// (ECN/TOS, packet info, receive timestamps, the drop counter) decoded into
// a Control without allocation (Message.Control, ParseControl).
//
// Linux has both system calls. FreeBSD has neither: its libc loops over
// recvmsg(2) and sendmsg(2), and so does mmsg, in pure Go. On Linux the same
// loop takes over when the kernel answers ENOSYS (seccomp sandboxes). Every
// other OS builds: Conn moves one datagram per call there, and Recvmmsg and
// Sendmmsg report errors.ErrUnsupported.
//
// # The contract
//
// The kernels and libcs disagree on nearly every edge. mmsg gives them one
// meaning:
//
//	                        Linux kernel            FreeBSD libc, kernel    mmsg, both OSes
//	empty batch             0; takes a pending      receives one message,   (0, nil), no system call
//	                        socket error            returns 1
//	EINTR, nothing yet      -1 EINTR                -1 EINTR                retried; time-out recomputed
//	                                                                        from the monotonic clock
//	signal after some       returns n, keeps        returns n, but with     returns n: messages 2..n are
//	                        ERESTARTSYS: next call  SA_RESTART (all of      received with MSG_DONTWAIT and
//	                        gets errno 512          Go's handlers) the      waited for in ppoll, which a
//	                                                kernel restarts the     signal ends; the errno 512
//	                                                wait for more: it       Linux leaks is retried as EINTR
//	                                                never returns
//	nothing queued          -1 EAGAIN               -1 EAGAIN               (0, err), errors.Is(err, unix.EAGAIN)
//	queue runs dry          n                       n                       (n, nil)
//	error after some        n; error kept in        n; error lost           (n, err), or n and the next
//	                        sk_err for next call                            call returns it: never lost
//	timeout                 checked only after a    ppoll before the first  bounds the wait for the first
//	                        datagram: never ends    recvmsg; expiry         datagram; then only what is
//	                        a wait                  returns 0               queued; expiry: (0, err) with
//	                                                                        errors.Is(err, os.ErrDeadlineExceeded)
//	ready, nothing to take  POLLERR stays set for   POLLIN stays set for    not a datagram: a timed call
//	                        an error-queue entry,   so_rerror (SO_RERROR),  sleeps on (edge-triggered)
//	                        POLLIN for data with    which a UDP receive     until one comes or time is up
//	                        MSG_ERRQUEUE            ignores
//	invalid timeout         EINVAL                  EINVAL (ppoll)          EINVAL
//	MSG_WAITFORONE          0x10000                 0x80000, also passed    same meaning on both; never
//	                                                to recvmsg              reaches recvmsg
//	Hdr.Flags               echoes the input flag   echoes every input      what happened to the message
//	                        MSG_CMSG_CLOEXEC        flag (MSG_DONTWAIT:     only: echoed input bits removed
//	                                                0x80)
//	full send queue         -1 EAGAIN (ENOBUFS:     AF_UNIX: -1 ENOBUFS,    nothing sent: (0, err) matching
//	                        qdisc drop with         blocking or not; no     unix.EAGAIN and unix.ENOBUFS,
//	                        IP_RECVERR); poll       event ever says         unwrapping to the errno; after
//	                        says when there is      writable again. UDP:    some: (n, nil)
//	                        room again              no flow control, lo0
//	                                                drops silently
//	send error after some   n; error dropped (an    n; error dropped        Linux: dropped by the kernel;
//	                        async ECONNREFUSED is                           FreeBSD: (n, err)
//	                        consumed with it)
//	loopback delivery       done when sendto        asynchronous (netisr    the kernel's, not hidden
//	                        returns                 thread): may still be
//	                                                on its way
//	send batch > 1024       silently capped         no cap                  capped at MaxSendBatch on both
//	nil buffer, length > 0  EFAULT after the        EFAULT after the        EFAULT before any system call
//	                        datagram is dequeued:   datagram is dequeued
//	                        datagram lost
//	errors                  errno                   errno                   *os.SyscallError "recvmmsg" or
//	                                                                        "sendmmsg" wrapping the errno
//
// When n > 0 the n messages are valid even if err is not nil, as with
// io.Reader: handle them, then the error. n is never negative.
//
// # Three myths
//
// All three are false, and each is shown by a test in myths_test.go:
//
//   - "recvmmsg receives from several sockets." It takes one descriptor; an
//     unconnected socket may receive from many peers, but that is one
//     socket, and other sockets' queues are not touched.
//   - "recvmmsg is worse for small messages." Each entry runs the path a
//     recvmsg runs; the saving is per call, so small datagrams gain most.
//     It loses only when batches average about one message.
//   - "On a non-blocking socket recvmmsg fails unless vlen messages are
//     queued." It returns what is queued, up to vlen, and fails with EAGAIN
//     only when nothing is, exactly like recvmsg.
//
// # Files
//
// The architecture reads from the file list: types_GOOS.go and mkall.sh
// generate ztypes_GOOS_GOARCH.go (layouts), checked at compile time by
// layout_GOOS.go; syscall_GOOS.go, recvmmsg.go, sendmmsg.go and loop.go
// (the recvmsg/sendmsg loop) are the raw calls, portable.go their stand-in
// elsewhere; errno.go, errors.go, poll.go, check.go and limits.go are the
// errno layer; conn*.go, sockaddr*.go and messages.go are Conn;
// control*.go, options.go, gso.go and segments.go are the offloads and
// control messages.
package mmsg
