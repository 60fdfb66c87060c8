// Package mmsg moves batches of datagrams with recvmmsg(2) and sendmmsg(2)
// on Linux and FreeBSD behind one contract, with the same API on every OS.
//
// Two layers:
//
//   - Conn, over any datagram syscall.Conn (*net.UDPConn first): ReadBatch
//     and WriteBatch wait on Go's network poller, honour the connection's
//     deadlines, take net/netip addresses and allocate nothing per call.
//     On top of it: UDP GSO (AppendSegmentSize, GSO) and GRO (SetGRO,
//     Segments), and control messages (ECN/TOS, packet info and the reply
//     source, receive timestamps, the drop counter) decoded into a Control
//     without allocation.
//   - Recvmmsg and Sendmmsg, thin wrappers for a raw descriptor, with the
//     layouts of struct mmsghdr generated per OS and architecture (Mmsghdr).
//
// Linux has both system calls. FreeBSD has neither: its libc loops over
// recvmsg(2) and sendmsg(2), and so does mmsg, in Go; on Linux the same
// loop takes over when the kernel answers ENOSYS (seccomp sandboxes). On
// every other OS the package builds with the same exported names: Conn
// moves one datagram per system call there, and what the OS cannot do
// reports an error matching errors.ErrUnsupported.
//
// # The contract
//
// The kernels and libcs disagree on nearly every edge (the README has the
// whole table, docs/contract.md its sources). mmsg gives them one meaning:
//
//   - n is never negative; when n > 0 the n messages are valid even if err
//     is not nil, as with io.Reader. An empty batch is (0, nil) without a
//     system call. An error that ends a receive batch early is returned
//     with it or by the next call, never lost.
//   - EINTR never surfaces, nor does the errno 512 (ERESTARTSYS) Linux
//     leaks after a signal; a signal ends the wait for the rest of a batch.
//   - Nothing queued: an error matching unix.EAGAIN. A full send queue with
//     nothing sent: one error matching both unix.EAGAIN and unix.ENOBUFS
//     (FreeBSD answers ENOBUFS and never says when there is room again);
//     after some messages it just ends the batch.
//   - A time-out (Recvmmsg) or deadline (Conn) bounds the wait for the
//     first datagram and gives an error matching os.ErrDeadlineExceeded; a
//     socket that poll reports ready with nothing to receive (an error-queue
//     entry) is waited on, not spun on.
//   - Hdr.Flags and Message.Flags say what happened to the message, never
//     the flags the call was given (FreeBSD echoes them).
//   - Recvmmsg and Sendmmsg return *os.SyscallError values named after the
//     system call that failed, as package net names them: "recvmmsg" and
//     "sendmmsg" on Linux, "recvmsg" and "sendmsg" on FreeBSD and where
//     Linux answers ENOSYS; Conn returns what net.UDPConn returns for the
//     same failure: a *net.OpError wrapping the *os.SyscallError of its
//     call ("recvfrom" and "sendto" for one message, see Conn), or
//     net.ErrClosed, or os.ErrDeadlineExceeded.
//
// # Conn and the descriptor
//
// A Conn works on the socket, not on the Go value: a type that embeds a
// *net.UDPConn and overrides its methods is bypassed. Calls always pass
// MSG_DONTWAIT, so a socket made blocking (net's File and Fd do that) still
// gets what is queued and a waiting goroutine, not thread; a blocking
// *os.File, which the poller cannot wait on, blocks its thread in the
// kernel until the first datagram, as os.File reads do, and its deadlines
// and Close do not end that wait. Go's poller lets one reader of a socket
// wait at a time: a ReadBatch with MSG_ERRQUEUE waiting for an error-queue
// entry keeps every other reader of the socket waiting behind it, so read
// the error queue when there is an entry (a read that failed with the
// socket's error says so), or alternate it with the normal reads in one
// goroutine. MSG_PEEK with len(ms) > 1 returns the same datagram len(ms)
// times, as the kernels do.
//
// A ReadBatch or WriteBatch of one message with one buffer, no OOB and no
// flags takes recvfrom(2) or sendto(2), the cheapest call for one datagram,
// so a Conn costs what net.UDPConn does there.
package mmsg

// BUG(freebsd): FreeBSD has no send-side flow control for datagrams: UDP
// is "sent" once the kernel takes it, and loopback hands it to a netisr
// thread whose queue (256 packets) drops the excess silently; delivery to
// the receiver happens after sendto returns. A full AF_UNIX datagram queue
// answers ENOBUFS and no poller event follows when there is room, so
// Conn.WriteBatch retries it after a pause that grows from 50µs to 1ms
// (its deadline and Close are seen within that).
