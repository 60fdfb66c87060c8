//go:build linux

package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/go-mmsg/mmsg"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// sendRig is an unconnected sender and a destination: every method names
// the destination in each message, as a server answering peers does.
type sendRig struct {
	tx    *net.UDPConn
	txFd  int
	dst   netip.AddrPort
	seq   uint64 // next sequence number, written into each payload
	bufs  [][]byte
	check bool // number the payloads (tests), which costs a store per datagram
}

// newSendRig makes a sender for dst with room for max datagrams per call.
func newSendRig(tb testing.TB, dst netip.AddrPort, max int) *sendRig {
	tx := listenUDP(tb)
	r := &sendRig{tx: tx, txFd: fdOf(tb, tx), dst: dst, bufs: make([][]byte, max)}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, payloadSize)
	}
	return r
}

// number writes consecutive sequence numbers into the first k payloads.
func (r *sendRig) number(k int) {
	if !r.check {
		return
	}
	for i := range k {
		binary.LittleEndian.PutUint64(r.bufs[i], r.seq)
		r.seq++
	}
}

// sendFunc sends exactly want datagrams.
type sendFunc func(want int) (int, error)

type sendMethod struct {
	name  string
	batch int
	open  func(r *sendRig, batch int) (sendFunc, error)
}

func sendMethods() []sendMethod {
	ms := []sendMethod{{"net-WriteTo", 1, openNetWrite}, {"mmsg-Conn-1", 1, openConnWrite1}}
	for _, b := range batchSizes {
		ms = append(ms, sendMethod{fmt.Sprintf("xnet-WriteBatch-%d", b), b, openXnetWrite})
	}
	for _, b := range batchSizes {
		ms = append(ms, sendMethod{fmt.Sprintf("mmsg-Conn-%d", b), b, openConnWrite})
	}
	for _, b := range batchSizes {
		ms = append(ms, sendMethod{fmt.Sprintf("mmsg-raw-%d", b), b, openRawWrite})
	}
	return append(ms, sendMethod{fmt.Sprintf("C-sendmmsg-%d", cVlen), cVlen, openCWrite})
}

func openNetWrite(r *sendRig, _ int) (sendFunc, error) {
	return func(want int) (int, error) {
		for sent := 0; sent < want; sent++ {
			r.number(1)
			if _, err := r.tx.WriteToUDPAddrPort(r.bufs[0], r.dst); err != nil {
				return sent, err
			}
		}
		return want, nil
	}, nil
}

func openXnetWrite(r *sendRig, batch int) (sendFunc, error) {
	pc := ipv4.NewPacketConn(r.tx)
	to := net.UDPAddrFromAddrPort(r.dst)
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{r.bufs[i]}
		ms[i].Addr = to
	}
	return func(want int) (int, error) {
		sent := 0
		for sent < want {
			v := min(batch, want-sent)
			r.number(v)
			for off := 0; off < v; {
				n, err := pc.WriteBatch(ms[off:v], 0)
				if err != nil {
					return sent + off, err
				}
				off += n
			}
			sent += v
		}
		return sent, nil
	}, nil
}

func openConnWrite(r *sendRig, batch int) (sendFunc, error) {
	c, err := mmsg.NewConn(r.tx)
	if err != nil {
		return nil, err
	}
	ms := make([]mmsg.Message, batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{r.bufs[i]}
		ms[i].Addr = r.dst
	}
	return func(want int) (int, error) {
		sent := 0
		for sent < want {
			v := min(batch, want-sent)
			r.number(v)
			n, err := c.WriteBatch(ms[:v], 0)
			sent += n
			if err != nil {
				return sent, err
			}
		}
		return sent, nil
	}, nil
}

// openConnWrite1 sends one datagram per WriteBatch, as a consumer
// replacing WriteToUDPAddrPort would: a one-message slice literal per call.
func openConnWrite1(r *sendRig, _ int) (sendFunc, error) {
	c, err := mmsg.NewConn(r.tx)
	if err != nil {
		return nil, err
	}
	p, dst := r.bufs[0], r.dst
	return func(want int) (int, error) {
		for sent := 0; sent < want; sent++ {
			r.number(1)
			if _, err := c.WriteBatch([]mmsg.Message{{Buffers: [][]byte{p}, Addr: dst}}, 0); err != nil {
				return sent, err
			}
		}
		return want, nil
	}, nil
}

func openRawWrite(r *sendRig, batch int) (sendFunc, error) {
	a := r.dst.Addr().As4()
	name := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&name.Port))[:], r.dst.Port())
	hdrs := make([]mmsg.Mmsghdr, batch)
	iovs := make([]unix.Iovec, batch)
	for i := range hdrs {
		iovs[i].Base = &r.bufs[i][0]
		iovs[i].SetLen(payloadSize)
		h := &hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(name))
		h.Namelen = unix.SizeofSockaddrInet4
		h.Iov = &iovs[i]
		h.SetIovlen(1)
	}
	rc, err := r.tx.SyscallConn()
	if err != nil {
		return nil, err
	}
	return func(want int) (int, error) {
		sent := 0
		for sent < want {
			v := min(batch, want-sent)
			r.number(v)
			for off := 0; off < v; {
				n, err := mmsg.Sendmmsg(r.txFd, hdrs[off:v], 0)
				if errors.Is(err, unix.EAGAIN) {
					err = waitWritable(rc)
				}
				if err != nil {
					return sent + off, err
				}
				off += n
			}
			sent += v
		}
		return sent, nil
	}, nil
}

// waitWritable parks on Go's netpoller until the socket is writable, as a
// user of the raw call on a Go socket would.
func waitWritable(rc syscall.RawConn) error {
	first := true
	return rc.Write(func(uintptr) bool {
		done := !first
		first = false
		return done
	})
}

func openCWrite(r *sendRig, batch int) (sendFunc, error) {
	if !haveC {
		return nil, errSkip
	}
	if r.check {
		return nil, errors.New("the C sender cannot number its payloads")
	}
	cb, err := newCBatch(batch, payloadSize)
	if err != nil {
		return nil, err
	}
	cb.setDest(r.dst, payloadSize)
	return func(want int) (int, error) { return cb.send(r.txFd, want) }, nil
}

// newSink is a receiver that never reads and whose receive buffer is as
// small as the kernel allows, so that it drops nearly every datagram and
// the benchmark measures the send path only.
func newSink(tb testing.TB) netip.AddrPort {
	s := listenUDP(tb)
	if err := s.SetReadBuffer(1); err != nil {
		tb.Fatal(err)
	}
	return addrOf(s)
}

// BenchmarkSend times sending to a receiver that drops. One op is one
// datagram.
func BenchmarkSend(b *testing.B) {
	for _, m := range sendMethods() {
		b.Run(m.name, func(b *testing.B) {
			r := newSendRig(b, newSink(b), m.batch)
			send, err := m.open(r, m.batch)
			if err == errSkip {
				b.Skip(errNoC)
			}
			if err != nil {
				b.Fatal(err)
			}
			a0 := heapObjects()
			b.ResetTimer()
			c0 := cpuNow()
			got, err := send(b.N)
			cpu := cpuNow() - c0
			b.StopTimer()
			allocs := heapObjects() - a0
			if err != nil || got != b.N {
				b.Fatalf("sent %d of %d: %v", got, b.N, err)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/dgram")
			b.ReportMetric(float64(allocs)/float64(b.N), "allocs/dgram")
			tally(b, "Send/"+m.name, b.N)
		})
	}
}

// TestSend checks that every send method delivers all datagrams, in order,
// intact and from its socket, to a receiver that keeps them (the C sender
// cannot number payloads, so only their count and size are checked).
func TestSend(t *testing.T) {
	for _, m := range sendMethods() {
		t.Run(m.name, func(t *testing.T) {
			rx := newDrainRig(t, 600, false) // only its receiver is used
			k := rx.n
			r := newSendRig(t, addrOf(rx.rx), m.batch)
			r.check = m.name[0] != 'C'
			send, err := m.open(r, m.batch)
			if err == errSkip {
				t.Skip(errNoC)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := send(k); err != nil || got != k {
				t.Fatalf("sent %d of %d: %v", got, k, err)
			}
			rx.rx.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, bufSize)
			for i := range k {
				n, from, err := rx.rx.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("datagram %d of %d: %v", i, k, err)
				}
				if n != payloadSize {
					t.Fatalf("datagram %d: %d bytes, want %d", i, n, payloadSize)
				}
				if from != addrOf(r.tx) {
					t.Fatalf("datagram %d from %v, want %v", i, from, addrOf(r.tx))
				}
				if seq := binary.LittleEndian.Uint64(buf); r.check && seq != uint64(i) {
					t.Fatalf("datagram %d carries sequence %d", i, seq)
				}
			}
		})
	}
}
