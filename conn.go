package mmsg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
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

	// Flags are what happened to the received message, the same on every
	// OS: MSG_TRUNC when the datagram did not fit in Buffers, MSG_CTRUNC
	// when the control data did not fit in OOB. The flags a call was
	// given are never echoed here.
	Flags int
}

// NewMessages returns n Messages, each with one buffer of bufSize bytes
// and an OOB of oobSize bytes (none if 0), in three allocations in all.
// Negative arguments count as 0.
// For UDP GRO use GROBufferSize and the Conn's OOBSize:
//
//	ms := mmsg.NewMessages(64, mmsg.GROBufferSize, c.OOBSize())
func NewMessages(n, bufSize, oobSize int) []Message {
	n, bufSize, oobSize = max(n, 0), max(bufSize, 0), max(oobSize, 0)
	ms := make([]Message, n)
	bufs := make([][]byte, n)
	data := make([]byte, n*(bufSize+oobSize))
	for i := range ms {
		b, o := i*bufSize, n*bufSize+i*oobSize
		bufs[i] = data[b : b+bufSize : b+bufSize]
		ms[i].Buffers = bufs[i : i+1 : i+1]
		if oobSize > 0 {
			ms[i].OOB = data[o : o+oobSize : o+oobSize]
		}
	}
	return ms
}

// ErrNotDatagram is the error NewConn returns (wrapped, with the socket
// type) for a socket that is not a datagram socket, such as a TCP
// connection. Match it with errors.Is.
var ErrNotDatagram = errors.New("mmsg: not a datagram socket")

// Address families a Conn knows, whatever the OS calls them.
const (
	familyOther = iota // no IP addresses: AF_UNIX, ...
	familyIPv4
	familyIPv6
)

// Conn moves batches of datagrams over a datagram socket owned by a Go
// connection, such as a *net.UDPConn. It is safe for concurrent use; each
// datagram is delivered to exactly one reader.
//
// On Linux and FreeBSD a call moves as many datagrams as one recvmmsg or
// sendmmsg allows, waits on Go's network poller, honours the connection's
// deadlines and allocates nothing in the steady state. Other systems move
// one datagram per system call through the connection's ReadMsgUDPAddrPort
// and WriteMsgUDPAddrPort. The API is the same everywhere; what an OS
// cannot do reports errors.ErrUnsupported.
//
// The Conn does not own the connection: closing the connection ends every
// call in progress and every later one with an error matching
// net.ErrClosed. Set deadlines on the connection too.
//
// Errors are what net.UDPConn returns for the same failure: a *net.OpError
// ("read" or "write") wrapping net.ErrClosed, os.ErrDeadlineExceeded or
// the *os.SyscallError of the system call that failed, named as net names
// it. On Linux and FreeBSD a one-message call that net's
// ReadFromUDPAddrPort or WriteToUDPAddrPort could make takes the same
// system call and name, "recvfrom" or "sendto" (see ReadBatch and
// WriteBatch), and a batch is "recvmmsg" or "sendmmsg" on Linux ("recvmsg"
// or "sendmsg" where seccomp or a sandbox answers ENOSYS to those), and
// "recvmsg" or "sendmsg" on FreeBSD. Elsewhere the errors are those of
// net's ReadMsgUDPAddrPort and WriteMsgUDPAddrPort, as they are. Match the
// errno with errors.Is: the name depends on the path a call took.
type Conn struct {
	rc     syscall.RawConn
	family int           // familyIPv4, familyIPv6 or familyOther
	opts   atomic.Uint32 // receive options on (options.go)
	gso    gsoState      // how UDP_SEGMENT messages are sent (gso.go)
	sys    connSys       // the OS's batch state (conn_batch.go) or the one-by-one fallback

	// For errors in the form net gives them (*net.OpError).
	network      string
	laddr, raddr net.Addr
}

// NewConn returns a Conn that reads and writes batches on the socket of c,
// typically a *net.UDPConn. On Linux and FreeBSD any datagram socket will do
// (SOCK_DGRAM or SOCK_RAW of any family, from a net connection or an
// *os.File); elsewhere c must have *net.UDPConn's ReadMsgUDPAddrPort and
// WriteMsgUDPAddrPort methods. NewConn fails with an error matching
// ErrNotDatagram for a stream socket and net.ErrClosed for a closed one.
//
// The Conn works on the socket itself: a wrapper type that embeds a
// *net.UDPConn and overrides its read or write methods is bypassed.
func NewConn(c syscall.Conn) (*Conn, error) {
	if c == nil {
		return nil, errors.New("mmsg: NewConn: nil connection")
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, closedErr("NewConn", err)
	}
	mc := &Conn{rc: rc}
	if a, ok := c.(interface{ LocalAddr() net.Addr }); ok {
		mc.laddr = a.LocalAddr()
	}
	if a, ok := c.(interface{ RemoteAddr() net.Addr }); ok {
		mc.raddr = a.RemoteAddr()
	}
	if err := mc.sys.init(mc, c); err != nil {
		return nil, err
	}
	if mc.network == "" && mc.laddr != nil {
		mc.network = mc.laddr.Network()
	}
	return mc, nil
}

// ReadBatch receives up to len(ms) datagrams into ms and returns how many
// it received: it waits for the first, then takes every datagram already
// queued, in one system call (at most 1024 per call). It sets N, NN, Flags
// and Addr of ms[:n] and leaves ms[n:] alone; flags are MSG_* flags, 0
// usually. When n > 0 the n messages are valid even if err is not nil.
// Errors are *net.OpError values (see Conn); the read deadline gives
// os.ErrDeadlineExceeded, Close net.ErrClosed.
//
// On Linux and FreeBSD, a read of one message into one buffer, without
// OOB or flags, on a UDP socket with none of the Conn's receive options
// on, is one recvfrom(2), as net's ReadFromUDPAddrPort makes, and its
// errors say "recvfrom". Any other read is a batch ("recvmmsg" on Linux,
// "recvmsg" on FreeBSD), because recvfrom cannot report that control data
// was cut: a message without OOB on a Conn with an option on gets
// MSG_CTRUNC on Linux, as net's ReadMsgUDP without OOB does (FreeBSD drops
// control data that has no buffer silently, on every path). The two paths
// report a datagram the same way. The Conn knows only its own options: one
// turned on with setsockopt outside it is not seen, and such a read then
// drops its control data unreported, as ReadFromUDPAddrPort does; read
// with an OOB buffer there.
func (c *Conn) ReadBatch(ms []Message, flags int) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	return c.readBatch(ms, flags)
}

// WriteBatch sends each message of ms as one datagram and returns how many
// it sent. It sends all of them unless an error stops it, across the 1024
// messages of one sendmmsg and across a full socket buffer, so n < len(ms)
// comes only with the error for ms[n]. N is set for every message sent. A
// message with a UDP_SEGMENT control message (AppendSegmentSize) is sent
// as datagrams of that size (see GSO). Errors are *net.OpError values (see
// Conn); the write deadline gives os.ErrDeadlineExceeded, Close
// net.ErrClosed. On Linux and FreeBSD, a write of one message with at
// most one buffer, without OOB or flags, is one sendto(2), as net's
// WriteToUDPAddrPort makes, and its errors say "sendto"; any other is a
// batch ("sendmmsg" on Linux, "sendmsg" on FreeBSD). A GSO message has
// OOB: always a batch.
func (c *Conn) WriteBatch(ms []Message, flags int) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	return c.writeBatch(ms, flags)
}

// opError wraps an error of a read or write the way package net does for
// the same failure on a *net.UDPConn: a *net.OpError whose Err is
// net.ErrClosed, os.ErrDeadlineExceeded, or the *os.SyscallError of the
// system call. addr is the peer the operation was about (the destination
// of the message a write stopped at), nil for the connection's peer.
func (c *Conn) opError(op string, addr net.Addr, err error) error {
	if err == nil {
		return nil
	}
	if addr == nil {
		addr = c.raddr
	}
	if oe, ok := err.(*net.OpError); ok {
		if oe.Op == op {
			return err // already in net's form (the one-by-one fallback)
		}
		err = oe.Err // the RawConn's "raw-read"/"raw-write" error
	}
	return &net.OpError{Op: op, Net: c.network, Source: c.laddr, Addr: addr, Err: pollErr(err)}
}

// pollErr turns the errors of Go's poller into the ones package net
// returns: net.ErrClosed for a closed connection, also when it is an
// *os.File (whose RawConn reports internal/poll's "use of closed file",
// which matches neither net.ErrClosed nor os.ErrClosed), and
// os.ErrDeadlineExceeded for a deadline.
func pollErr(err error) error {
	switch {
	case errors.Is(err, net.ErrClosed), errors.Is(err, errFileClosing()):
		return net.ErrClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		return os.ErrDeadlineExceeded
	}
	return err
}

// closedErr is the error of NewConn for a RawConn that failed: one that
// matches net.ErrClosed if the connection or file is closed.
func closedErr(op string, err error) error {
	if pe := pollErr(err); pe != err {
		return fmt.Errorf("mmsg: %s: %w", op, pe)
	}
	return err
}

// errFileClosing is internal/poll's ErrFileClosing, which the package does
// not export: the error the RawConn of a closed *os.File gives. It is
// learned once, when first needed, from a pipe closed on purpose.
var errFileClosing = sync.OnceValue(func() error {
	r, w, err := os.Pipe()
	if err != nil {
		return nil // out of descriptors: no mapping, but no harm
	}
	w.Close()
	rc, err := r.SyscallConn()
	r.Close()
	if err != nil {
		return nil
	}
	return rc.Control(func(uintptr) {})
})
