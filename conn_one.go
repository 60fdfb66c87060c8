//go:build linux || freebsd

package mmsg

import (
	"net/netip"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The one-datagram path: a ReadBatch or WriteBatch of one message with one
// buffer, no control data and no flags, which is how a program replacing
// net.UDPConn's ReadFromUDPAddrPort and WriteToUDPAddrPort calls it. It
// uses recvfrom(2) and sendto(2), as those do: for one datagram the kernel
// then has no msghdr or iovec to copy in and no msg_len to copy out
// (recvmmsg of one message costs about 20% more, sendmmsg about 5%), and
// it needs none of the batch machinery (headers). Errors name those calls,
// as net's do.
//
// A read takes it only where recvfrom reports what the batch's receive
// (recvmmsg, or recvmsg) reports for the same message: on a UDP socket
// (connSys.oneRead) with no receive option of the Conn on. recvfrom has
// no msg_flags, so control data the kernel has for the datagram is dropped
// without a word, where a Linux recvmsg without a control buffer sets
// MSG_CTRUNC (net/core/scm.c, put_cmsg): every receive option makes
// control data, and so does a peer's SCM_RIGHTS on an AF_UNIX socket. And
// the MSG_TRUNC that makes recvfrom return a cut datagram's length (so
// that the cut shows) is honoured on input by UDP (Linux udp_recvmsg,
// FreeBSD soreceive_generic), not by every protocol a Conn can wrap:
// Linux's ICMP ping sockets return the bytes copied (ping_recvmsg).
// FreeBSD drops the control data of a recvmsg without a control buffer
// silently too (kern_recvit passes soreceive no control pointer).

// one is the state of a one-datagram call. A Conn keeps one for itself
// (the common case is one reader and one writer), other calls take theirs
// from a pool.
type one struct {
	call
	buf     []byte // the caller's buffer, during the call only
	name    unix.RawSockaddrInet6
	nameLen uint32
	n       int
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

var onePool = sync.Pool{New: func() any {
	o := new(one)
	o.readFn = o.read
	o.writeFn = o.write
	return o
}}

func (c *Conn) getOne() *one {
	if o := c.sys.one.Swap(nil); o != nil {
		return o
	}
	return onePool.Get().(*one)
}

func (c *Conn) putOne(o *one) {
	o.buf = nil
	o.call = call{}
	if !c.sys.one.CompareAndSwap(nil, o) {
		onePool.Put(o)
	}
}

// isOne reports whether ms is a call for the one-datagram path.
func isOne(ms []Message, flags int, write bool) bool {
	if len(ms) != 1 || len(ms[0].OOB) != 0 || flags != 0 {
		return false
	}
	return len(ms[0].Buffers) == 1 || write && len(ms[0].Buffers) == 0
}

// readOne is ReadBatch of one message with one buffer: recvfrom(2) with
// MSG_TRUNC, which makes it return the datagram's length, so that a cut
// datagram is flagged as recvmsg would flag it.
func (c *Conn) readOne(m *Message) (int, error) {
	o := c.getOne()
	defer c.putOne(o)
	o.buf = m.Buffers[0]
	if err := c.rawRead(o.readFn, &o.call); err != nil {
		return 0, c.opError("read", nil, err)
	}
	if o.err != nil {
		return 0, c.opError("read", nil, wrapErr("recvfrom", o.err))
	}
	m.N, m.NN, m.Flags = min(o.n, len(o.buf)), 0, 0
	if o.n > len(o.buf) {
		m.Flags = unix.MSG_TRUNC
	}
	m.Addr = netip.AddrPort{}
	if c.family != familyOther {
		m.Addr = sockaddrToAddrPort(&o.name, o.nameLen)
	}
	return 1, nil
}

// writeOne is WriteBatch of one message with at most one buffer.
func (c *Conn) writeOne(m *Message) (int, error) {
	o := c.getOne()
	defer c.putOne(o)
	if len(m.Buffers) > 0 {
		o.buf = m.Buffers[0]
	}
	o.nameLen = 0
	if m.Addr.IsValid() {
		var err error
		if o.nameLen, err = putSockaddr(&o.name, c.family, m.Addr); err != nil {
			return 0, c.opError("write", dstAddr(m.Addr), wrapErr("sendto", err))
		}
	}
	err := c.rawWrite(o.writeFn, &o.call)
	if err == nil && o.err != nil {
		err = wrapErr("sendto", o.err)
	}
	if err != nil {
		return 0, c.opError("write", dstAddr(m.Addr), err)
	}
	m.N = o.n
	return 1, nil
}

// read is the RawConn.Read callback of readOne.
func (o *one) read(fd uintptr) bool {
	o.nameLen = unix.SizeofSockaddrInet6
	n, err := o.syscall(unix.SYS_RECVFROM, fd, o.callFlags(true)&^MSG_WAITFORONE|unix.MSG_TRUNC,
		uintptr(unsafe.Pointer(&o.nameLen)))
	if err == unix.EAGAIN && !o.blocking {
		return false
	}
	o.n, o.err = n, err
	return true
}

// write is the RawConn.Write callback of writeOne.
func (o *one) write(fd uintptr) bool {
	n, err := o.syscall(unix.SYS_SENDTO, fd, o.callFlags(false), uintptr(o.nameLen))
	switch {
	case err == unix.EAGAIN && !o.blocking:
		return false
	case err == unix.ENOBUFS:
		o.full = true
	}
	o.n, o.err = n, err
	return true
}

// syscall makes recvfrom or sendto on o's buffer and name; the last
// argument is the name's length (sendto) or a pointer to it (recvfrom).
// With MSG_DONTWAIT the call cannot block, so it is made without telling
// the scheduler (RawSyscall6), which saves a tenth of the cost of a small
// datagram; a blocking descriptor's call goes through Syscall6 and
// retries EINTR.
func (o *one) syscall(trap, fd uintptr, flags int, nameArg uintptr) (int, error) {
	var p unsafe.Pointer
	if len(o.buf) > 0 {
		p = unsafe.Pointer(&o.buf[0])
	}
	var name unsafe.Pointer
	if o.nameLen > 0 {
		name = unsafe.Pointer(&o.name)
	}
	for {
		var r uintptr
		var e unix.Errno
		if flags&unix.MSG_DONTWAIT != 0 {
			r, _, e = unix.RawSyscall6(trap, fd, uintptr(p), uintptr(len(o.buf)), uintptr(flags), uintptr(name), nameArg)
		} else {
			r, _, e = unix.Syscall6(trap, fd, uintptr(p), uintptr(len(o.buf)), uintptr(flags), uintptr(name), nameArg)
		}
		switch {
		case e == 0:
			return int(r), nil
		case !isEINTR(e):
			return 0, e
		}
	}
}
