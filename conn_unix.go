//go:build linux || freebsd

package mmsg

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// connMaxRead bounds the messages one ReadBatch receives, and so the size
// of a pooled connBatch: a reader that asks for more gets n < len(ms),
// which is always allowed.
const connMaxRead = 1024

// connSys is the Linux and FreeBSD part of Conn: the wrapped connection's
// RawConn and the socket's address family, both fixed by NewConn, and the
// state the options and the GSO fallback share (options.go, gso.go).
type connSys struct {
	rc     syscall.RawConn
	family int // AF_INET, AF_INET6, or 0 for any other family (no addresses)
	st     *connState
}

func newConnSys(c syscall.Conn) (connSys, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return connSys{}, err
	}
	var typ, family int
	var serr error
	err = rc.Control(func(fd uintptr) {
		typ, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
		if serr != nil {
			serr = os.NewSyscallError("getsockopt", serr)
			return
		}
		sa, err := unix.Getsockname(int(fd))
		switch sa.(type) {
		case *unix.SockaddrInet4:
			family = unix.AF_INET
		case *unix.SockaddrInet6:
			family = unix.AF_INET6
		default:
			// Another family (AF_UNIX, ...), or one x/sys cannot
			// decode (EAFNOSUPPORT): messages carry no address.
			if err != nil && err != unix.EAFNOSUPPORT {
				serr = os.NewSyscallError("getsockname", err)
			}
		}
	})
	if err != nil {
		return connSys{}, err // closed: matches net.ErrClosed
	}
	if serr != nil {
		return connSys{}, serr
	}
	switch typ {
	case unix.SOCK_DGRAM, unix.SOCK_RAW:
	case unix.SOCK_STREAM:
		return connSys{}, fmt.Errorf("%w (SO_TYPE is SOCK_STREAM)", ErrNotDatagram)
	case unix.SOCK_SEQPACKET:
		return connSys{}, fmt.Errorf("%w (SO_TYPE is SOCK_SEQPACKET)", ErrNotDatagram)
	default:
		return connSys{}, fmt.Errorf("%w (SO_TYPE is %d)", ErrNotDatagram, typ)
	}
	return connSys{rc: rc, family: family, st: newConnState()}, nil
}

// identity returns the RawConn and the portable address family
// (familyIPv4, familyIPv6 or 0) for Conn's rc and family fields.
func (s *connSys) identity() (syscall.RawConn, int) {
	switch s.family {
	case unix.AF_INET:
		return s.rc, familyIPv4
	case unix.AF_INET6:
		return s.rc, familyIPv6
	}
	return s.rc, 0
}

// connBatch is the state of one ReadBatch or WriteBatch call: the kernel
// headers, iovecs and socket-address buffers, plus the call's inputs and
// outputs. connBatches are pooled, so a call in the steady state allocates
// nothing: the arrays only grow (when a larger batch is first seen), and
// the RawConn callbacks are method values bound once, when the connBatch is
// made, so that no closure is allocated per call.
//
// While a connBatch sits in the pool it holds no pointer to user memory.
type connBatch struct {
	hdrs  []Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for sockaddr_in too

	readFn  func(fd uintptr) bool // b.read
	writeFn func(fd uintptr) bool // b.write

	// Inputs of the call.
	family int
	flags  int
	ms     []Message // WriteBatch only

	// ReadBatch: hdrs[:count] are prepared; n were received.
	count, n int

	// WriteBatch: hdrs[:end-start] describe ms[start:end]; ms[:sent]
	// are sent; stop, if not nil, is the error for ms[end].
	start, end, sent int
	stop             error

	// err is the system call's error, returned to the caller.
	err error

	// WriteBatch: the Conn's state, and the GSO fallback's progress.
	st    *connState
	split splitState

	// hdrsUsed and iovsUsed bound the entries that may point to user
	// memory, for put to clear.
	hdrsUsed, iovsUsed int
}

var connBatchPool = sync.Pool{
	New: func() any {
		b := new(connBatch)
		b.readFn = b.read
		b.writeFn = b.write
		return b
	},
}

func getConnBatch(family, flags int) *connBatch {
	b := connBatchPool.Get().(*connBatch)
	b.family, b.flags = family, flags
	return b
}

// put clears every pointer to user memory and returns b to the pool.
func (b *connBatch) put() {
	clear(b.iovs[:b.iovsUsed])
	for i := range b.hdrsUsed {
		b.hdrs[i].Hdr.Control = nil
	}
	b.ms, b.st = nil, nil
	b.split = splitState{oob: b.split.oob[:0]}
	b.stop, b.err = nil, nil
	b.count, b.n, b.start, b.end, b.sent = 0, 0, 0, 0, 0
	b.hdrsUsed, b.iovsUsed = 0, 0
	connBatchPool.Put(b)
}

// grow makes room for msgs headers and names and iovs iovecs.
func (b *connBatch) grow(msgs, iovs int) {
	if cap(b.hdrs) < msgs {
		c := max(msgs, 2*cap(b.hdrs), 8)
		b.hdrs = make([]Mmsghdr, c)
		b.names = make([]unix.RawSockaddrInet6, c)
	}
	b.hdrs = b.hdrs[:cap(b.hdrs)]
	if cap(b.iovs) < iovs {
		// The old array holds no user pointers: put clears them.
		b.iovs = make([]unix.Iovec, max(iovs, 2*cap(b.iovs), 8))
	}
	b.iovs = b.iovs[:cap(b.iovs)]
	b.hdrsUsed = max(b.hdrsUsed, msgs)
	b.iovsUsed = max(b.iovsUsed, iovs)
}

// fill sets hdrs[i] up for message m: buffers from iovs[k:], the name
// buffer names[i] if withName (nameLen bytes of it for a send) and OOB. It
// returns the next free iovec. Every field, value-result ones included,
// is set afresh.
func (b *connBatch) fill(i, k int, m *Message, withName bool, nameLen uint32) int {
	h := &b.hdrs[i]
	*h = Mmsghdr{}
	if len(m.Buffers) > 0 {
		h.Hdr.Iov = &b.iovs[k]
		h.Hdr.SetIovlen(len(m.Buffers))
		for _, buf := range m.Buffers {
			v := &b.iovs[k]
			v.Base = nil
			if len(buf) > 0 {
				v.Base = &buf[0]
			}
			v.SetLen(len(buf))
			k++
		}
	}
	if len(m.OOB) > 0 {
		h.Hdr.Control = &m.OOB[0]
		h.Hdr.SetControllen(len(m.OOB))
	}
	if withName {
		h.Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Hdr.Namelen = nameLen
	}
	return k
}

// prepareRead sets up the headers for receiving into ms and returns how
// many messages the batch covers: it stops before a message with more
// than maxIovecs buffers (0 if ms[0] has too many).
func (b *connBatch) prepareRead(ms []Message) int {
	count, iovs := 0, 0
	for i := range ms {
		if len(ms[i].Buffers) > maxIovecs {
			break
		}
		iovs += len(ms[i].Buffers)
		count++
	}
	b.grow(count, iovs)
	withName := b.family == unix.AF_INET || b.family == unix.AF_INET6
	k := 0
	for i := range count {
		k = b.fill(i, k, &ms[i], withName, unix.SizeofSockaddrInet6)
	}
	b.count = count
	return count
}

// read is the RawConn.Read callback: one recvmmsg(2) on the non-blocking
// socket. Nothing queued (EAGAIN) returns false: RawConn then parks the
// goroutine on the poller until the socket is readable, or returns the
// deadline or close error.
//
// It calls recvBatch, not recvmmsg: prepareRead built the headers, with
// 1 to connMaxRead messages, at most maxIovecs iovecs each and a non-nil
// pointer behind every non-zero length, so checkMsgs could only repeat
// what fill guarantees (it cost about 1.5% of a drain in perf).
func (b *connBatch) read(fd uintptr) bool {
	n, err := recvBatch(int(fd), b.hdrs[:b.count], b.flags)
	if err == unix.EAGAIN {
		return false
	}
	b.n, b.err = n, err
	return true
}

func (s *connSys) readBatch(ms []Message, flags int) (int, error) {
	ms = ms[:min(len(ms), connMaxRead)]
	b := getConnBatch(s.family, flags)
	defer b.put()
	if b.prepareRead(ms) == 0 {
		return 0, wrapErr("recvmmsg", unix.EMSGSIZE)
	}
	if err := s.rc.Read(b.readFn); err != nil {
		return 0, err // deadline or closed; nothing was received
	}
	n := b.n
	for i := range n {
		m, h := &ms[i], &b.hdrs[i]
		m.N = int(h.Len)
		m.NN = int(h.Hdr.Controllen)
		m.Flags = int(h.Hdr.Flags)
		m.Addr = netip.AddrPort{}
		if h.Hdr.Name != nil {
			m.Addr = sockaddrToAddrPort(&b.names[i], h.Hdr.Namelen)
		}
	}
	return n, wrapErr("recvmmsg", b.err)
}

// prepareWrite sets up the headers for the next chunk of b.ms, from
// b.sent: at most MaxSendBatch messages (one sendmmsg), ending before a
// message that cannot be sent (its error is kept in b.stop).
func (b *connBatch) prepareWrite() {
	rest := b.ms[b.sent:]
	rest = rest[:min(len(rest), MaxSendBatch)]
	if b.st.gsoOff.Load() {
		// GSO messages are split into plain datagrams, one at a time.
		if rest = gsoCut(rest); len(rest) == 0 {
			b.prepareSplit(false)
			return
		}
	}
	count, iovs := 0, 0
	for i := range rest {
		if len(rest[i].Buffers) > maxIovecs {
			b.stop = unix.EMSGSIZE
			break
		}
		iovs += len(rest[i].Buffers)
		count++
	}
	b.grow(count, iovs)
	k := 0
	for i := range count {
		m := &rest[i]
		var nameLen uint32
		if m.Addr.IsValid() {
			var err error
			nameLen, err = putSockaddr(&b.names[i], b.family, m.Addr)
			if err != nil {
				count, b.stop = i, err
				break
			}
		}
		k = b.fill(i, k, m, nameLen != 0, nameLen)
	}
	b.start, b.end = b.sent, b.sent+count
}

// write is the RawConn.Write callback. It sends chunk after chunk until
// every message is sent or an error stops it; a full socket buffer with
// nothing sent (EAGAIN) returns false, and RawConn parks the goroutine
// until the socket is writable (or returns the deadline or close error),
// then calls write again to go on from b.sent.
func (b *connBatch) write(fd uintptr) bool {
	for {
		if b.split.on {
			if !b.writeSplit(int(fd)) {
				return false
			}
			if b.err != nil {
				return true
			}
			continue
		}
		if b.sent == b.end {
			if b.stop != nil {
				b.err = b.stop
				return true
			}
			if b.sent == len(b.ms) {
				return true
			}
			b.prepareWrite()
			continue
		}
		// Built by prepareWrite: non-empty, at most MaxSendBatch
		// messages and checkMsgs' invariants hold (see read).
		hs := b.hdrs[b.sent-b.start : b.end-b.start]
		n, err := sendBatch(int(fd), hs, b.flags)
		for i := range n {
			b.ms[b.sent+i].N = int(hs[i].Len)
		}
		b.sent += n
		switch {
		case err == unix.EAGAIN:
			return false // n == 0: the raw layer ends a batch without it
		case err != nil:
			if b.gsoRefused(err) {
				continue // ms[sent] goes out as plain datagrams
			}
			b.err = err
			return true
		case n == 0:
			// Not reachable with a non-empty batch; never spin.
			b.err = io.ErrNoProgress
			return true
		}
	}
}

func (s *connSys) writeBatch(ms []Message, flags int) (int, error) {
	b := getConnBatch(s.family, flags)
	defer b.put()
	b.ms, b.st = ms, s.st
	err := s.rc.Write(b.writeFn)
	if err == nil {
		err = wrapErr("sendmmsg", b.err)
	} else if b.split.on {
		ms[b.sent].N = b.split.n // segments sent before the deadline or close
	}
	return b.sent, err
}
