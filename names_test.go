//go:build linux || freebsd

package mmsg

import (
	"errors"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// batchCalls are the system calls a batch makes on this OS: Linux has
// recvmmsg(2) and sendmmsg(2), FreeBSD loops over recvmsg(2) and
// sendmsg(2). Spelled out rather than asked of the package, so that a
// wrong name fails.
func batchCalls() (recv, send string) {
	if runtime.GOOS == "freebsd" {
		return "recvmsg", "sendmsg"
	}
	return "recvmmsg", "sendmmsg"
}

// checkCall asserts that err wraps an *os.SyscallError named call that
// matches want.
func checkCall(t *testing.T, what string, err error, call string, want error) {
	t.Helper()
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != call || !errors.Is(err, want) {
		t.Errorf("%s: %v; want a %q *os.SyscallError matching %v", what, err, call, want)
	}
}

// TestConnErrorNamesWrite: an error names the system call that failed, as
// package net names it. A WriteBatch of one message takes sendto(2) (net's
// WriteToUDPAddrPort says "sendto"); a batch takes sendmmsg(2) on Linux and
// sendmsg(2) on FreeBSD. A datagram too big for UDP fails the same way on
// every path: EMSGSIZE.
func TestConnErrorNamesWrite(t *testing.T) {
	_, send := batchCalls()
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			uc := connListen(t, f.network, f.addr)
			uc.SetDeadline(time.Now().Add(30 * time.Second))
			c := connNew(t, uc)
			dst := connAddr(uc)
			big := make([]byte, 70000)

			n, err := c.WriteBatch([]Message{{Buffers: [][]byte{big}, Addr: dst}}, 0)
			if n != 0 {
				t.Errorf("one oversized message: n = %d, want 0", n)
			}
			checkCall(t, "WriteBatch of one oversized message", err, "sendto", unix.EMSGSIZE)
			_, netErr := uc.WriteToUDPAddrPort(big, dst)
			checkCall(t, "net's WriteToUDPAddrPort (the reference)", netErr, "sendto", unix.EMSGSIZE)

			// Two messages, the second oversized: the first is sent.
			n, err = c.WriteBatch([]Message{
				{Buffers: [][]byte{[]byte("ok")}, Addr: dst},
				{Buffers: [][]byte{big}, Addr: dst},
			}, 0)
			if n != 1 {
				t.Errorf("batch: n = %d, want 1", n)
			}
			checkCall(t, "WriteBatch of a batch", err, send, unix.EMSGSIZE)

			// Gathered buffers are the batch path even for one message.
			_, err = c.WriteBatch([]Message{{Buffers: [][]byte{big[:40000], big[40000:]}, Addr: dst}}, 0)
			checkCall(t, "WriteBatch of one message in two buffers", err, send, unix.EMSGSIZE)
		})
	}
}

// TestConnErrorNamesRead: a ReadBatch of one message with one buffer takes
// recvfrom(2) (net's ReadFromUDPAddrPort says "recvfrom"), a batch
// recvmmsg(2) on Linux and recvmsg(2) on FreeBSD; the socket error of a
// refusing peer shows which. With a receive option on, the one-message
// read is a batch of one (see TestConnOneMessageCtrunc): its error says so.
func TestConnErrorNamesRead(t *testing.T) {
	recv, _ := batchCalls()
	uc, c := connRefusingPeer(t)
	// Each datagram to the closed port brings back ICMP port unreachable,
	// which the next receive on the socket returns (asynchronously on
	// FreeBSD: the read waits for it, within the deadline).
	refuse := func() {
		t.Helper()
		if _, err := uc.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}

	// What net gives, for reference.
	refuse()
	_, _, netErr := uc.ReadFromUDPAddrPort(make([]byte, 8))
	if errors.Is(netErr, os.ErrDeadlineExceeded) {
		t.Skip("no ICMP port unreachable on this host's loopback")
	}
	checkCall(t, "net's ReadFromUDPAddrPort (the reference)", netErr, "recvfrom", unix.ECONNREFUSED)

	refuse()
	_, err := c.ReadBatch([]Message{{Buffers: [][]byte{make([]byte, 8)}}}, 0)
	checkCall(t, "ReadBatch of one message", err, "recvfrom", unix.ECONNREFUSED)

	refuse()
	_, err = c.ReadBatch(connMessages(2, 8), 0)
	checkCall(t, "ReadBatch of two messages", err, recv, unix.ECONNREFUSED)

	if err := c.SetReceivePacketInfo(true); err != nil {
		t.Fatal(err)
	}
	refuse()
	_, err = c.ReadBatch([]Message{{Buffers: [][]byte{make([]byte, 8)}}}, 0)
	checkCall(t, "ReadBatch of one message with packet info on", err, recv, unix.ECONNREFUSED)
}

// TestRawErrorNames: Recvmmsg and Sendmmsg name the system call that
// failed: recvmmsg(2) and sendmmsg(2) on Linux, recvmsg(2) and sendmsg(2)
// on FreeBSD. A time-out is the receive's.
func TestRawErrorNames(t *testing.T) {
	recv, send := batchCalls()
	fd, addr := udpSocket(t, unix.AF_INET, netip.MustParseAddr("127.0.0.1"), true)
	_, err := Recvmmsg(fd, newBatch(2, 16).msgs, 0, nil)
	checkCall(t, "Recvmmsg on an empty socket", err, recv, unix.EAGAIN)
	_, err = Recvmmsg(fd, newBatch(2, 16).msgs, 0, &unix.Timespec{Nsec: 1e6})
	checkCall(t, "Recvmmsg timing out", err, recv, os.ErrDeadlineExceeded)
	_, err = Recvmmsg(fd, newBatch(2, 16).msgs, 0, &unix.Timespec{Nsec: -1})
	checkCall(t, "Recvmmsg with an invalid timeout", err, recv, unix.EINVAL)
	_, err = Sendmmsg(fd, sendHeaders([][]byte{make([]byte, 70000)}, addr), 0)
	checkCall(t, "Sendmmsg of an oversized datagram", err, send, unix.EMSGSIZE)
}

// TestConnOneMessageCtrunc is the reproduction of issue 14, item 6: with a
// receive option on, a ReadBatch of one message with one buffer and no
// OOB reports what recvmsg(2) reports for it, as net's ReadMsgUDP without
// OOB does: on Linux MSG_CTRUNC (the option's control data did not fit),
// which recvfrom(2), having no flags, cannot say. FreeBSD drops the
// control data of a receive without a control buffer silently
// (kern_recvit hands soreceive no control pointer), so there no path sets
// MSG_CTRUNC: the one-message read must agree with a batch of one.
func TestConnOneMessageCtrunc(t *testing.T) {
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			if err := r.SetReceiveTimestamps(true); qemuLacks(err) {
				if err = r.SetReceivePacketInfo(true); err != nil {
					t.Fatal(err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			dst := connAddr(rconn)
			buf := make([]byte, 64)
			p := []byte("abc")
			one := sendThenRead(t, s, r, dst, p, buf)                  // the one-message path
			batch := sendThenRead(t, s, r, dst, p, buf[:32], buf[32:]) // two buffers: a batch of one
			t.Logf("one buffer: N %d NN %d Flags %#x; two buffers: N %d NN %d Flags %#x",
				one.N, one.NN, one.Flags, batch.N, batch.NN, batch.Flags)
			if one.N != 3 || one.NN != 0 || batch.N != 3 || batch.NN != 0 {
				t.Errorf("N, NN = %d, %d and %d, %d; want 3, 0", one.N, one.NN, batch.N, batch.NN)
			}
			if one.Flags != batch.Flags {
				t.Errorf("one buffer: Flags %#x; a batch of one reports %#x", one.Flags, batch.Flags)
			}
			if runtime.GOOS == "linux" && one.Flags&unix.MSG_CTRUNC == 0 {
				t.Errorf("Flags %#x: no MSG_CTRUNC for control data that had no room", one.Flags)
			}
			var c Control
			if err := one.Control(&c); runtime.GOOS == "linux" && err != ErrControlTruncated {
				t.Errorf("Message.Control = %v, want ErrControlTruncated", err)
			}
		})
	}
}

// TestConnOneMessageUnixRights: on an AF_UNIX socket a peer can send
// SCM_RIGHTS whatever the options, so a one-message read there reports
// what recvmsg(2) does too: on Linux MSG_CTRUNC (the descriptors are
// closed, as without a control buffer they must be).
func TestConnOneMessageUnixRights(t *testing.T) {
	a, b := connUnixPair(t)
	a.SetDeadline(time.Now().Add(30 * time.Second))
	c := connNew(t, a)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := func(bufs ...[]byte) Message {
		t.Helper()
		if _, _, err := b.WriteMsgUnix([]byte("abc"), unix.UnixRights(int(f.Fd())), nil); err != nil {
			t.Fatal(err)
		}
		ms := []Message{{Buffers: bufs}}
		if n, err := c.ReadBatch(ms, 0); n != 1 || err != nil {
			t.Fatalf("ReadBatch = %d, %v", n, err)
		}
		return ms[0]
	}
	buf := make([]byte, 64)
	one := read(buf)
	batch := read(buf[:32], buf[32:])
	t.Logf("one buffer: N %d Flags %#x; two buffers: N %d Flags %#x", one.N, one.Flags, batch.N, batch.Flags)
	if one.N != 3 || batch.N != 3 || one.Flags != batch.Flags {
		t.Errorf("one buffer: N %d Flags %#x; a batch of one: N %d Flags %#x", one.N, one.Flags, batch.N, batch.Flags)
	}
	if runtime.GOOS == "linux" && one.Flags&unix.MSG_CTRUNC == 0 {
		t.Errorf("Flags %#x: no MSG_CTRUNC for SCM_RIGHTS that had no room", one.Flags)
	}
}

// TestConnOneMessageTruncation: a datagram longer than the one buffer is
// reported as a batch of one reports it: N the bytes received, MSG_TRUNC.
func TestConnOneMessageTruncation(t *testing.T) {
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			dst := connAddr(rconn)
			p := connPayload(7, 100)
			buf := make([]byte, 10)
			one := sendThenRead(t, s, r, dst, p, buf)
			batch := sendThenRead(t, s, r, dst, p, buf[:4], buf[4:])
			if one.N != 10 || one.Flags != unix.MSG_TRUNC || one.N != batch.N || one.Flags != batch.Flags {
				t.Errorf("one buffer: N %d Flags %#x; a batch of one: N %d Flags %#x; want N 10, MSG_TRUNC",
					one.N, one.Flags, batch.N, batch.Flags)
			}
		})
	}
}

// TestConnOneMessageOptionAllocs: the one-message read a receive option
// sends through the batch path allocates nothing either.
func TestConnOneMessageOptionAllocs(t *testing.T) {
	if connRaceEnabled {
		t.Skip("the race detector makes sync.Pool drop a quarter of what is put back")
	}
	uc := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	uc.SetDeadline(time.Now().Add(time.Minute))
	c := connNew(t, uc)
	if err := c.SetReceivePacketInfo(true); err != nil {
		t.Fatal(err)
	}
	dst := connAddr(uc)
	payload := connPayload(1, 64)
	buf := make([]byte, 128)
	var failed error
	allocs := testing.AllocsPerRun(200, func() {
		if n, err := c.WriteBatch([]Message{{Buffers: [][]byte{payload}, Addr: dst}}, 0); n != 1 || err != nil {
			failed = err
		}
		ms := []Message{{Buffers: [][]byte{buf}}}
		if n, err := c.ReadBatch(ms, 0); n != 1 || err != nil || ms[0].N != len(payload) {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Errorf("one-message ReadBatch with packet info on: %v allocations per call, want 0", allocs)
	}
}

// TestFallbackErrorNames: the one-by-one Conn of the systems without batch
// calls (conn_fallback.go, run here through *net.UDPConn) returns net's
// errors as they are: net's ReadMsgUDPAddrPort and WriteMsgUDPAddrPort
// make recvmsg(2) and sendmsg(2) on Unix and name them so.
func TestFallbackErrorNames(t *testing.T) {
	r, _, _, fs := connFallbackPair(t)
	_, err := fs.writeBatch([]Message{{Buffers: [][]byte{make([]byte, 70000)}, Addr: connAddrPort(r)}}, 0)
	checkCall(t, "fallback write of an oversized datagram", err, "sendmsg", unix.EMSGSIZE)

	uc, _ := connRefusingPeer(t)
	fc, err := newFallbackConn(uc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uc.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_, err = fc.readBatch(connMessages(1, 8), 0)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Skip("no ICMP port unreachable on this host's loopback")
	}
	checkCall(t, "fallback read from a refusing peer", err, "recvmsg", unix.ECONNREFUSED)
}

// sendThenRead sends p to dst with s, one message, and reads it with r
// into one Message whose Buffers are bufs: one buffer takes the
// one-message path, more make it a batch of one.
func sendThenRead(t *testing.T, s, r *Conn, dst netip.AddrPort, p []byte, bufs ...[]byte) Message {
	t.Helper()
	if n, err := s.WriteBatch([]Message{{Buffers: [][]byte{p}, Addr: dst}}, 0); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	ms := []Message{{Buffers: bufs}}
	if n, err := r.ReadBatch(ms, 0); n != 1 || err != nil {
		t.Fatalf("ReadBatch = %d, %v", n, err)
	}
	return ms[0]
}
