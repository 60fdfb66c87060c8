//go:build linux

package bench

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/go-mmsg/mmsg"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// A drainMethod receives from a drainRig's receiver with one API.
type drainMethod struct {
	name string
	open func(r *drainRig) (drainFunc, error)
}

func drainMethods() []drainMethod {
	ms := []drainMethod{{"net-ReadFrom", openNetRead}, {"mmsg-Conn-1", openConnRead1}}
	for _, b := range batchSizes {
		ms = append(ms, drainMethod{fmt.Sprintf("xnet-ReadBatch-%d", b), openXnetRead(b)})
	}
	for _, b := range batchSizes {
		ms = append(ms, drainMethod{fmt.Sprintf("mmsg-Conn-%d", b), openConnRead(b)})
	}
	for _, b := range batchSizes {
		ms = append(ms, drainMethod{fmt.Sprintf("mmsg-raw-%d", b), openRawRead(b)})
	}
	return append(ms, drainMethod{fmt.Sprintf("C-recvmmsg-%d", cVlen), openCRead})
}

func openNetRead(r *drainRig) (drainFunc, error) {
	buf := make([]byte, bufSize)
	return func(want int, check checkFunc) (int, error) {
		for got := 0; got < want; got++ {
			n, from, err := r.rx.ReadFromUDPAddrPort(buf)
			if err != nil {
				return got, err
			}
			if check != nil {
				check(got, buf[:n], from)
			}
		}
		return want, nil
	}, nil
}

func openXnetRead(batch int) func(r *drainRig) (drainFunc, error) {
	return func(r *drainRig) (drainFunc, error) {
		pc := ipv4.NewPacketConn(r.rx)
		ms := make([]ipv4.Message, batch)
		for i := range ms {
			ms[i].Buffers = [][]byte{make([]byte, bufSize)}
		}
		return func(want int, check checkFunc) (int, error) {
			got := 0
			for got < want {
				n, err := pc.ReadBatch(ms, 0)
				if err != nil {
					return got, err
				}
				if check != nil {
					for j := range n {
						check(got+j, ms[j].Buffers[0][:ms[j].N], ms[j].Addr.(*net.UDPAddr).AddrPort())
					}
				}
				got += n
			}
			return got, nil
		}, nil
	}
}

func openConnRead(batch int) func(r *drainRig) (drainFunc, error) {
	return func(r *drainRig) (drainFunc, error) {
		c, err := mmsg.NewConn(r.rx)
		if err != nil {
			return nil, err
		}
		ms := make([]mmsg.Message, batch)
		for i := range ms {
			ms[i].Buffers = [][]byte{make([]byte, bufSize)}
		}
		return func(want int, check checkFunc) (int, error) {
			got := 0
			for got < want {
				n, err := c.ReadBatch(ms, 0)
				if err != nil {
					return got, err
				}
				if check != nil {
					for j := range n {
						check(got+j, ms[j].Buffers[0][:ms[j].N], ms[j].Addr)
					}
				}
				got += n
			}
			return got, nil
		}, nil
	}
}

// openConnRead1 reads one datagram per ReadBatch, as a consumer replacing
// ReadFromUDPAddrPort would: a one-message slice literal per call.
func openConnRead1(r *drainRig) (drainFunc, error) {
	c, err := mmsg.NewConn(r.rx)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, bufSize)
	return func(want int, check checkFunc) (int, error) {
		for got := 0; got < want; got++ {
			ms := []mmsg.Message{{Buffers: [][]byte{buf}}}
			n, err := c.ReadBatch(ms, 0)
			if err != nil {
				return got, err
			}
			if n != 1 {
				return got, fmt.Errorf("ReadBatch of one message returned %d", n)
			}
			if check != nil {
				check(got, buf[:ms[0].N], pointerFree(ms[0].Addr))
			}
		}
		return want, nil
	}, nil
}

// pointerFree is a copy of ap without its zone, rebuilt from plain
// values. Handing ap itself to check would make escape analysis, which
// does not tell a Message's fields apart, move the caller's Buffers slice
// literal to the heap (an allocation per call that a consumer who keeps
// the address to itself does not pay).
func pointerFree(ap netip.AddrPort) netip.AddrPort {
	a := netip.AddrFrom16(ap.Addr().As16())
	if ap.Addr().Is4() {
		a = a.Unmap()
	}
	return netip.AddrPortFrom(a, ap.Port())
}

// rawBatch is what a user of mmsg.Recvmmsg sets up: headers, iovecs,
// buffers and room for the source addresses.
type rawBatch struct {
	hdrs  []mmsg.Mmsghdr
	names []unix.RawSockaddrInet6
	bufs  [][]byte
}

func newRawBatch(batch int) *rawBatch {
	rb := &rawBatch{
		hdrs:  make([]mmsg.Mmsghdr, batch),
		names: make([]unix.RawSockaddrInet6, batch),
		bufs:  make([][]byte, batch),
	}
	iovs := make([]unix.Iovec, batch)
	for i := range rb.hdrs {
		rb.bufs[i] = make([]byte, bufSize)
		iovs[i].Base = &rb.bufs[i][0]
		iovs[i].SetLen(bufSize)
		h := &rb.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&rb.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &iovs[i]
		h.SetIovlen(1)
	}
	return rb
}

// from decodes the IPv4 source of message i.
func (rb *rawBatch) from(i int) netip.AddrPort {
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rb.names[i]))
	if sa.Family != unix.AF_INET {
		return netip.AddrPort{}
	}
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
}

func openRawRead(batch int) func(r *drainRig) (drainFunc, error) {
	return func(r *drainRig) (drainFunc, error) {
		rb := newRawBatch(batch)
		used := batch
		return func(want int, check checkFunc) (int, error) {
			got := 0
			for got < want {
				// Namelen is value-result: reset what the last call used.
				for j := range rb.hdrs[:used] {
					rb.hdrs[j].Hdr.Namelen = unix.SizeofSockaddrInet6
				}
				n, err := mmsg.Recvmmsg(r.rxFd, rb.hdrs, 0, nil)
				if err != nil {
					return got, err
				}
				if check != nil {
					for j := range n {
						check(got+j, rb.bufs[j][:rb.hdrs[j].Len], rb.from(j))
					}
				}
				got += n
				used = n
			}
			return got, nil
		}, nil
	}
}

func openCRead(r *drainRig) (drainFunc, error) {
	if !haveC {
		return nil, errSkip
	}
	cb, err := newCBatch(cVlen, bufSize)
	if err != nil {
		return nil, err
	}
	return func(want int, check checkFunc) (int, error) {
		if check == nil {
			got, err := cb.drain(r.rxFd, want)
			if err == nil && got < want {
				err = errShort(got, want)
			}
			return got, err
		}
		got := 0
		for got < want {
			n, err := cb.recvOnce(r.rxFd)
			if err != nil {
				return got, err
			}
			for j := range n {
				p, from := cb.msg(j)
				check(got+j, p, from)
			}
			got += n
		}
		return got, nil
	}, nil
}

// timedDrain fills the queue with k datagrams, then drains them with
// drain and returns the process CPU time and the wall time of the drain
// alone, and the heap allocations made during it.
func (r *drainRig) timedDrain(b *testing.B, drain drainFunc, k int) (cpu, wall time.Duration, allocs uint64) {
	r.fill(b, k)
	a0 := heapObjects()
	b.StartTimer()
	t0, c0 := time.Now(), cpuNow()
	got, err := drain(k, nil)
	cpu, wall = cpuNow()-c0, time.Since(t0)
	b.StopTimer()
	allocs = heapObjects() - a0
	if err != nil || got != k {
		b.Fatalf("drained %d of %d: %v", got, k, err)
	}
	return cpu, wall, allocs
}

// BenchmarkDrain times draining a full receive queue. One op is one
// datagram; the queue is refilled, outside the timer, every -drain.n.
func BenchmarkDrain(b *testing.B) {
	for _, m := range drainMethods() {
		b.Run(m.name, func(b *testing.B) {
			r := newDrainRig(b, *drainN, true)
			drain, err := m.open(r)
			if err == errSkip {
				b.Skip(errNoC)
			}
			if err != nil {
				b.Fatal(err)
			}
			var cpu time.Duration
			var allocs uint64
			b.StopTimer()
			for left := b.N; left > 0; {
				k := min(left, r.n)
				c, _, a := r.timedDrain(b, drain, k)
				cpu += c
				allocs += a
				left -= k
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/dgram")
			b.ReportMetric(float64(allocs)/float64(b.N), "allocs/dgram")
			tally(b, "Drain/"+m.name, b.N)
		})
	}
}

// drainPairs are the comparisons behind the targets, measured paired.
var drainPairs = [][2]string{
	{"mmsg-Conn-256", "C-recvmmsg-1024"},
	{"mmsg-Conn-64", "C-recvmmsg-1024"},
	{"net-ReadFrom", "mmsg-Conn-256"},
	{"net-ReadFrom", "C-recvmmsg-1024"},
	{"xnet-ReadBatch-256", "mmsg-Conn-256"},
}

// BenchmarkDrainPaired compares two drain methods round by round: each
// round fills and drains the queue once with each (in alternating order),
// so that both see the same conditions, and the metrics are the medians
// over the rounds of A's cost divided by B's. On a machine shared with
// other work this is far steadier than comparing separate benchmarks.
// One op is one datagram drained by each method.
func BenchmarkDrainPaired(b *testing.B) {
	methods := map[string]drainMethod{}
	for _, m := range drainMethods() {
		methods[m.name] = m
	}
	for _, p := range drainPairs {
		b.Run(p[0]+"_vs_"+p[1], func(b *testing.B) {
			r := newDrainRig(b, *drainN, true)
			var drains [2]drainFunc
			for i, name := range p {
				d, err := methods[name].open(r)
				if err == errSkip {
					b.Skip(errNoC)
				}
				if err != nil {
					b.Fatal(err)
				}
				drains[i] = d
			}
			var cpuRatios, wallRatios []float64
			b.StopTimer()
			for round, left := 0, b.N; left > 0; round++ {
				k := min(left, r.n)
				var cpu, wall [2]time.Duration
				for j := range 2 {
					i := (round + j) % 2
					cpu[i], wall[i], _ = r.timedDrain(b, drains[i], k)
				}
				cpuRatios = append(cpuRatios, float64(cpu[0])/float64(max(cpu[1], 1)))
				wallRatios = append(wallRatios, float64(wall[0])/float64(max(wall[1], 1)))
				left -= k
			}
			b.ReportMetric(median(cpuRatios), "cpu-A/B")
			b.ReportMetric(median(wallRatios), "wall-A/B")
		})
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// TestDrain checks that every drain method receives all datagrams of two
// rounds, in order, intact and from the right source.
func TestDrain(t *testing.T) {
	for _, m := range drainMethods() {
		t.Run(m.name, func(t *testing.T) {
			r := newDrainRig(t, 600, false)
			drain, err := m.open(r)
			if err == errSkip {
				t.Skip(errNoC)
			}
			if err != nil {
				t.Fatal(err)
			}
			for round := range 2 {
				r.fill(t, r.n)
				seen := 0
				got, err := drain(r.n, func(i int, p []byte, from netip.AddrPort) {
					if i != seen {
						t.Fatalf("round %d: datagram %d checked as %d", round, seen, i)
					}
					seen++
					if len(p) != payloadSize {
						t.Fatalf("round %d: datagram %d: %d bytes, want %d", round, i, len(p), payloadSize)
					}
					if seq := int(binary.LittleEndian.Uint64(p)); seq != i {
						t.Fatalf("round %d: datagram %d carries sequence %d", round, i, seq)
					}
					if from != r.txAddr {
						t.Fatalf("round %d: datagram %d from %v, want %v", round, i, from, r.txAddr)
					}
				})
				if err != nil || got != r.n || seen != r.n {
					t.Fatalf("round %d: drained %d (checked %d) of %d: %v", round, got, seen, r.n, err)
				}
			}
		})
	}
}
