package mmsg

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"syscall"
)

// Message is one datagram of a ReadBatch or WriteBatch call. It has the
// fields of golang.org/x/net's ipv4.Message and ipv6.Message, except that
// Addr is a net/netip address (no allocation) instead of a net.Addr.
//
// The Conn resets the kernel's value-result fields (name length, control
// length, flags) from the Message on every call, so a slice of Messages can
// be reused from call to call without state leaking between them: after a
// read, N, NN, Flags and Addr describe that read only.
type Message struct {
	// Buffers are the scatter/gather buffers: a read fills them in order,
	// a write sends their concatenation as one datagram.
	Buffers [][]byte

	// OOB is the control-message (ancillary data) buffer: filled by a read
	// (NN bytes), sent by a write. It may be nil.
	OOB []byte

	// Addr is the source of a received datagram, in the form
	// net.UDPConn.ReadMsgUDPAddrPort gives on the same socket (an AF_INET6
	// socket receiving from IPv4 reports a v4-mapped ::ffff:a.b.c.d), or
	// the zero AddrPort on a socket that is not IPv4 or IPv6.
	//
	// For a write it is the destination; the zero AddrPort sends without
	// one (to the peer of a connected socket). An IPv4 address on an IPv6
	// socket is sent as its v4-mapped form; a v4-mapped address on an IPv4
	// socket is unmapped.
	Addr netip.AddrPort

	// N is the number of bytes received into Buffers, or sent. With
	// MSG_TRUNC in a read's flags, Linux reports the datagram's full
	// length, which can exceed the buffers.
	N int

	// NN is the number of bytes of OOB filled by a read.
	NN int

	// Flags are the received message's flags: MSG_TRUNC when the datagram
	// did not fit in Buffers, MSG_CTRUNC when the control data did not fit
	// in OOB, and so on.
	Flags int
}

// ErrNotDatagram is the error NewConn returns (wrapped, with the socket
// type) for a socket that is not a datagram socket, such as a TCP
// connection. Match it with errors.Is.
var ErrNotDatagram = errors.New("mmsg: not a datagram socket")

// Conn moves batches of datagrams over a datagram socket owned by a Go
// connection, such as a *net.UDPConn. It is safe for concurrent use by
// several goroutines; each datagram is delivered to exactly one reader.
//
// On Linux and FreeBSD every call moves as many datagrams as one
// recvmmsg/sendmmsg allows (on FreeBSD, a recvmsg/sendmsg loop in Go, as
// its libc does), waits on Go's network poller (never blocking an OS
// thread), honours the wrapped connection's deadlines and allocates
// nothing in the steady state. On other systems Conn moves one datagram
// per system call through the connection's ReadMsgUDPAddrPort and
// WriteMsgUDPAddrPort methods (see NewConn and ReadBatch).
//
// The Conn does not own the connection: closing the connection ends every
// call in progress and every later one with an error matching
// net.ErrClosed. Set deadlines on the connection too.
type Conn struct {
	sys connSys

	// The fields below are the ones the options and control-message
	// code (options.go) uses, on every OS.
	rc     syscall.RawConn // the wrapped connection's, set by NewConn
	family int             // familyIPv4, familyIPv6, or 0 for another family
	opts   atomic.Uint32   // receive options on: 1<<opt* bits (options.go)
}

// Address families of a Conn's socket, portable: Conn.family.
const (
	familyIPv4 = 4 // AF_INET
	familyIPv6 = 6 // AF_INET6
)

// NewConn returns a Conn that reads and writes batches on the socket of c,
// typically a *net.UDPConn; on Linux and FreeBSD any connection or file
// whose socket is a datagram socket (SOCK_DGRAM or SOCK_RAW, any address
// family, e.g. an AF_UNIX socketpair through net.FileConn) will do.
//
// NewConn learns the socket's type and address family once, with
// getsockopt(SO_TYPE) and getsockname(2). It fails with an error matching
// ErrNotDatagram for a stream socket and with one matching net.ErrClosed
// for a closed connection.
//
// On systems other than Linux and FreeBSD, c must have the
// ReadMsgUDPAddrPort and WriteMsgUDPAddrPort methods of *net.UDPConn;
// anything else gives an error matching errors.ErrUnsupported.
func NewConn(c syscall.Conn) (*Conn, error) {
	if c == nil {
		return nil, errors.New("mmsg: NewConn: nil connection")
	}
	sys, err := newConnSys(c)
	if err != nil {
		return nil, err
	}
	mc := &Conn{sys: sys}
	mc.rc, mc.family = sys.identity()
	return mc, nil
}

// ReadBatch receives up to len(ms) datagrams into ms and returns how many
// it received. It waits, parked on Go's network poller, until at least one
// datagram is queued, then returns every queued datagram up to len(ms) (at
// most 1024 per call; n < len(ms) is always allowed) in one recvmmsg(2)
// system call. For each received message ms[i] it sets N, NN, Flags and
// Addr; ms[n:] is left untouched. flags are MSG_* flags for the system
// call (MSG_TRUNC, MSG_ERRQUEUE, ...); 0 is the usual value.
//
// len(ms) == 0 returns (0, nil) at once, without a system call.
//
// n is never negative. When the read deadline of the wrapped connection
// passes first, ReadBatch returns (0, err) with errors.Is(err,
// os.ErrDeadlineExceeded); after the connection is closed, also for a call
// waiting at that moment, errors.Is(err, net.ErrClosed). System call
// errors are *os.SyscallError values named "recvmmsg" wrapping the errno
// (match them with errors.Is, e.g. syscall.ECONNREFUSED on a connected
// socket). When n > 0 the n messages are valid even if err is not nil; an
// error that ended a batch early is never lost: it is returned with the
// messages received before it or, on Linux, kept by the kernel and
// returned by the next call on the socket.
//
// Addresses are decoded without allocation. An IPv6 source with a
// non-zero scope ID (a link-local peer) gets the zone net uses, the
// interface's name (or the index in decimal if no interface has it); that
// lookup, cached, is the only case that may allocate.
//
// Each message may have at most 1024 Buffers; a batch stops before a
// message with more, which gives EMSGSIZE when it comes first.
//
// On other systems ReadBatch receives one datagram per call (n is 0 or 1)
// with the connection's ReadMsgUDPAddrPort, and flags must be 0 (otherwise
// the error matches errors.ErrUnsupported). A message with one Buffer is
// read into it directly; one with several Buffers is read into a pooled
// buffer as long as all of them and copied (scattered) into them, so N and
// MSG_TRUNC mean the same as on Linux. Errors are those of the connection.
func (c *Conn) ReadBatch(ms []Message, flags int) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	return c.sys.readBatch(ms, flags)
}

// WriteBatch sends the messages in ms, each as one datagram, and returns
// how many were sent. It sends all of them unless an error stops it: more
// than 1024 messages take several sendmmsg(2) system calls, and a full
// socket buffer parks the goroutine on Go's network poller until there is
// room, so n < len(ms) comes only with a non-nil error, the error for
// ms[n]. For each message sent, N is set to the number of bytes sent.
// flags are MSG_* flags for the system call; 0 is the usual value.
//
// Errors are as for ReadBatch, named "sendmmsg": errors.Is(err,
// os.ErrDeadlineExceeded) when the write deadline of the connection passes
// while the socket buffer is full, errors.Is(err, net.ErrClosed) after
// Close. A destination the socket cannot reach gives EAFNOSUPPORT (an
// IPv6 Addr on an IPv4 socket, any Addr on a socket that is neither), and
// a message with more than 1024 Buffers gives EMSGSIZE; the messages
// before it are sent first.
//
// On Linux and FreeBSD a message whose OOB holds a UDP_SEGMENT control
// message (AppendSegmentSize) is sent as datagrams of that size: by the
// kernel, in one piece (UDP GSO), or, once the kernel or the device has
// refused GSO (see GSODisabled) and always on FreeBSD, by WriteBatch, one
// datagram per segment, each with the message's other control messages.
// N is the message's length either way. If an error stops such a message
// partway, n does not count it and its N counts the bytes of the segments
// already sent.
//
// On other systems WriteBatch sends the messages one by one with the
// connection's WriteMsgUDPAddrPort (one system call each), flags must be 0,
// and a message with several Buffers is copied (gathered) into a pooled
// buffer first. Errors are those of the connection; as there, Addr must be
// zero on a connected socket and valid on an unconnected one.
func (c *Conn) WriteBatch(ms []Message, flags int) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	return c.sys.writeBatch(ms, flags)
}
