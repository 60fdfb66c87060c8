//go:build linux

package bench

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-mmsg/mmsg"
	"golang.org/x/sys/unix"
)

// The GRO benchmarks move 1200-byte datagrams (a QUIC-sized payload) over
// loopback with three methods:
//
//   - C-mmsg-1024: the C floor, sendmmsg(2) and recvmmsg(2) with vlen 1024.
//   - mmsg-Conn-256: Conn.WriteBatch and Conn.ReadBatch (256 messages), one
//     datagram per message.
//   - mmsg-GSO-GRO-50: Conn.WriteBatch of messages of 50 datagrams each
//     (AppendSegmentSize, UDP GSO) to a receiver with UDP GRO on, whose
//     Conn.ReadBatch (8 buffers of 64 KiB) gets them coalesced; Segments
//     walks the datagrams.
//
// BenchmarkGRO times a sender and a receiver moving -gro.n datagrams per
// round (send, then drain; one goroutine; both sides' CPU counted).
// BenchmarkGRODrain times the receive side alone (the queue is filled
// outside the timer, by the same method's sender). BenchmarkGROPaired
// alternates two methods round by round and reports the median ratio of
// their datagram rates (rate-A/B), the steadiest number on a shared
// machine. One op is one datagram; dgrams/s is datagrams per second of
// wall time.

const (
	groPayload = 1200 // bytes per datagram
	groSegs    = 50   // datagrams per GSO message: 60000 bytes, under 64 KiB
	groBatch   = 256  // messages per ReadBatch of the plain Conn
	// groReadBatch is the messages per ReadBatch with GRO: 8 buffers of
	// 64 KiB (512 KiB) stay in cache, where 64 (4 MiB) made the copy
	// into them 30% slower here.
	groReadBatch = 8
)

var groN = flag.Int("gro.n", 8000, "datagrams per GRO benchmark round")

// groRig is a receiver with a receive buffer large enough for a round, and
// a sender.
type groRig struct {
	rx, tx     *net.UDPConn
	rxFd, txFd int
	r, s       *mmsg.Conn
	n          int // datagrams per round
}

// newGRORig makes a rig for rounds of n datagrams. With force the receive
// buffer is sized with SO_RCVBUFFORCE (root); without it, n must fit in
// the default buffer.
func newGRORig(tb testing.TB, n int, force bool) *groRig {
	g := &groRig{rx: listenUDP(tb), tx: listenUDP(tb), n: n}
	g.rxFd, g.txFd = fdOf(tb, g.rx), fdOf(tb, g.tx)
	if force {
		// 1200-byte datagrams cost about 2.3 KB of receive buffer
		// each; leave twice that.
		if err := unix.SetsockoptInt(g.rxFd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n*5000); err != nil {
			tb.Skipf("SO_RCVBUFFORCE: %v: the GRO benchmarks need root or CAP_NET_ADMIN", err)
		}
	}
	var err error
	if g.r, err = mmsg.NewConn(g.rx); err != nil {
		tb.Fatal(err)
	}
	if g.s, err = mmsg.NewConn(g.tx); err != nil {
		tb.Fatal(err)
	}
	return g
}

// groMethod moves datagrams with one API: send queues k datagrams on the
// receiver, drain receives k; check, if not nil, sees every datagram.
type groMethod struct {
	name string
	open func(g *groRig) (send func(k int) error, drain func(k int, check func(i int, p []byte)) error, err error)
}

var groMethods = []groMethod{
	{"C-mmsg-1024", openGROC},
	{fmt.Sprintf("mmsg-Conn-%d", groBatch), openGROConn},
	{fmt.Sprintf("mmsg-GSO-GRO-%d", groSegs), openGROGSO},
}

// groPayloads returns n datagrams' payloads back to back; datagram i starts
// with i.
func groPayloads(n int) []byte {
	p := make([]byte, n*groPayload)
	for i := range n {
		d := p[i*groPayload : (i+1)*groPayload]
		d[0], d[1], d[2], d[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		for j := 4; j < len(d); j++ {
			d[j] = byte(i + j)
		}
	}
	return p
}

func openGROC(g *groRig) (func(int) error, func(int, func(int, []byte)) error, error) {
	if !haveC {
		return nil, nil, errSkip
	}
	cs, err := newCBatch(cVlen, bufSize)
	if err != nil {
		return nil, nil, err
	}
	cr, err := newCBatch(cVlen, bufSize)
	if err != nil {
		return nil, nil, err
	}
	cs.setDest(addrOf(g.rx), groPayload)
	send := func(k int) error {
		n, err := cs.send(g.txFd, k)
		if err == nil && n != k {
			err = fmt.Errorf("sent %d of %d", n, k)
		}
		return err
	}
	drain := func(k int, check func(int, []byte)) error {
		for got := 0; got < k; {
			if check != nil {
				n, err := cr.recvOnce(g.rxFd)
				if err == unix.EAGAIN {
					continue
				}
				if err != nil {
					return err
				}
				for j := range n {
					p, _ := cr.msg(j)
					check(got+j, p)
				}
				got += n
				continue
			}
			// A queue that runs dry early (softirqs deferred to
			// ksoftirqd) is drained again.
			n, err := cr.drain(g.rxFd, k-got)
			if err != nil {
				return err
			}
			got += n
		}
		return nil
	}
	return send, drain, nil
}

func openGROConn(g *groRig) (func(int) error, func(int, func(int, []byte)) error, error) {
	payloads := groPayloads(g.n)
	out := make([]mmsg.Message, g.n)
	dst := addrOf(g.rx)
	for i := range out {
		out[i] = mmsg.Message{Buffers: [][]byte{payloads[i*groPayload : (i+1)*groPayload]}, Addr: dst}
	}
	in := mmsg.NewMessages(groBatch, bufSize, 0)
	send := func(k int) error {
		n, err := g.s.WriteBatch(out[:k], 0)
		if err == nil && n != k {
			err = fmt.Errorf("sent %d of %d", n, k)
		}
		return err
	}
	drain := func(k int, check func(int, []byte)) error {
		for got := 0; got < k; {
			n, err := g.r.ReadBatch(in[:min(len(in), k-got)], 0)
			if err != nil {
				return err
			}
			if check != nil {
				for j := range n {
					check(got+j, in[j].Buffers[0][:in[j].N])
				}
			}
			got += n
		}
		return nil
	}
	return send, drain, nil
}

func openGROGSO(g *groRig) (func(int) error, func(int, func(int, []byte)) error, error) {
	if err := g.r.SetGRO(true); err != nil {
		return nil, nil, err
	}
	payloads := groPayloads(g.n)
	out := make([]mmsg.Message, (g.n+groSegs-1)/groSegs)
	dst := addrOf(g.rx)
	oob := mmsg.AppendSegmentSize(nil, groPayload)
	for i := range out {
		out[i] = mmsg.Message{Buffers: [][]byte{nil}, OOB: oob, Addr: dst}
	}
	in := mmsg.NewMessages(groReadBatch, mmsg.GROBufferSize, g.r.OOBSize())
	var ctl mmsg.Control
	send := func(k int) error {
		msgs := (k + groSegs - 1) / groSegs
		for i := range msgs {
			lo, hi := i*groSegs*groPayload, min((i+1)*groSegs, k)*groPayload
			out[i].Buffers[0] = payloads[lo:hi]
		}
		n, err := g.s.WriteBatch(out[:msgs], 0)
		if err == nil && n != msgs {
			err = fmt.Errorf("sent %d of %d messages", n, msgs)
		}
		return err
	}
	drain := func(k int, check func(int, []byte)) error {
		// Each GSO message arrives coalesced, as one message; a sender
		// that fell back to plain datagrams (the kernel refused GSO)
		// shows as more messages than it sent.
		msgs := 0
		for got := 0; got < k; {
			n, err := g.r.ReadBatch(in, 0)
			if err != nil {
				return err
			}
			if msgs += n; msgs > (k+groSegs-1)/groSegs {
				return fmt.Errorf("%d datagrams arrived in more than %d messages: GSO was not used, "+
					"the benchmark would measure the fallback", k, (k+groSegs-1)/groSegs)
			}
			for j := range n {
				if err := groWalk(&in[j], &ctl, false, &got, check); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return send, drain, nil
}

// groWalk decodes the control data of m, a buffer a GRO receiver read,
// and hands each of its datagrams, numbered from *got on, to check (if not
// nil). A truncated buffer is an error, and so, with coalesced, is a
// datagram that arrived alone (GSO or GRO was not used).
func groWalk(m *mmsg.Message, ctl *mmsg.Control, coalesced bool, got *int, check func(int, []byte)) error {
	if err := m.Control(ctl); err != nil {
		return err
	}
	if m.Flags&unix.MSG_TRUNC != 0 {
		return fmt.Errorf("coalesced datagram of %d bytes truncated", m.N)
	}
	if coalesced && ctl.SegmentSize == 0 {
		return fmt.Errorf("a datagram of %d bytes arrived alone: GSO or GRO was not used", m.N)
	}
	for seg := range mmsg.Segments(m.Buffers[0][:m.N], ctl.SegmentSize) {
		if check != nil {
			check(*got, seg)
		}
		*got++
	}
	return nil
}

// groRound moves k datagrams with send and drain and returns the CPU and
// wall time of what timed covers: "both" (send and drain), "drain" or
// "send".
func (g *groRig) groRound(b *testing.B, send func(int) error, drain func(int, func(int, []byte)) error, k int, timed string) (cpu, wall time.Duration, allocs uint64) {
	_, _, drops0 := memInfo(b, g.rxFd)
	a0 := heapObjects()
	t0, c0 := time.Now(), cpuNow()
	if timed == "drain" {
		if err := send(k); err != nil {
			b.Fatal(err)
		}
		t0, c0 = time.Now(), cpuNow()
		a0 = heapObjects()
		b.StartTimer()
	} else {
		b.StartTimer()
		if err := send(k); err != nil {
			b.Fatal(err)
		}
	}
	if timed == "send" {
		cpu, wall = cpuNow()-c0, time.Since(t0)
		b.StopTimer()
		allocs = heapObjects() - a0
	}
	if err := drain(k, nil); err != nil {
		b.Fatal(err)
	}
	if timed != "send" {
		cpu, wall = cpuNow()-c0, time.Since(t0)
		b.StopTimer()
		allocs = heapObjects() - a0
	}
	if _, _, drops := memInfo(b, g.rxFd); drops != drops0 {
		b.Fatalf("the receiver dropped %d of %d datagrams: the benchmark is invalid", drops-drops0, k)
	}
	return cpu, wall, allocs
}

func benchGRO(b *testing.B, timed string) {
	for _, m := range groMethods {
		b.Run(m.name, func(b *testing.B) {
			g := newGRORig(b, *groN, true)
			send, drain, err := m.open(g)
			if err == errSkip {
				b.Skip(errNoC)
			}
			if err != nil {
				b.Fatal(err)
			}
			g.rx.SetReadDeadline(time.Now().Add(time.Hour))
			var cpu, wall time.Duration
			var allocs uint64
			b.StopTimer()
			for left := b.N; left > 0; {
				k := min(left, g.n)
				c, w, a := g.groRound(b, send, drain, k, timed)
				cpu, wall, allocs = cpu+c, wall+w, allocs+a
				left -= k
			}
			b.ReportMetric(float64(b.N)/wall.Seconds(), "dgrams/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/dgram")
			b.ReportMetric(float64(allocs)/float64(b.N), "allocs/dgram")
		})
	}
}

// BenchmarkGRO times sending and receiving; see the comment at the top.
func BenchmarkGRO(b *testing.B) { benchGRO(b, "both") }

// BenchmarkGRODrain times receiving only; see the comment at the top.
func BenchmarkGRODrain(b *testing.B) { benchGRO(b, "drain") }

// groPairs are the comparisons behind the 8x target.
var groPairs = [][2]string{
	{"mmsg-GSO-GRO-50", "C-mmsg-1024"},
	{"mmsg-GSO-GRO-50", "mmsg-Conn-256"},
}

// BenchmarkGROPaired alternates two methods round by round (send and
// drain timed, as in BenchmarkGRO) and reports the medians over the rounds
// of A's datagram rate over B's (rate-A/B) and of A's CPU per datagram
// over B's (cpu-A/B). One op is one datagram moved by each method.
func BenchmarkGROPaired(b *testing.B) {
	for _, p := range groPairs {
		b.Run(p[0]+"_vs_"+p[1], func(b *testing.B) {
			var rigs [2]*groRig
			var sends [2]func(int) error
			var drains [2]func(int, func(int, []byte)) error
			for i, name := range p {
				for _, m := range groMethods {
					if m.name != name {
						continue
					}
					rigs[i] = newGRORig(b, *groN, true)
					var err error
					sends[i], drains[i], err = m.open(rigs[i])
					if err == errSkip {
						b.Skip(errNoC)
					}
					if err != nil {
						b.Fatal(err)
					}
					rigs[i].rx.SetReadDeadline(time.Now().Add(time.Hour))
				}
			}
			var rates, cpus []float64
			b.StopTimer()
			for round, left := 0, b.N; left > 0; round++ {
				k := min(left, *groN)
				var cpu, wall [2]time.Duration
				for j := range 2 {
					i := (round + j) % 2
					cpu[i], wall[i], _ = rigs[i].groRound(b, sends[i], drains[i], k, "both")
				}
				rates = append(rates, float64(wall[1])/float64(max(wall[0], 1)))
				cpus = append(cpus, float64(cpu[0])/float64(max(cpu[1], 1)))
				left -= k
			}
			b.ReportMetric(median(rates), "rate-A/B")
			b.ReportMetric(median(cpus), "cpu-A/B")
		})
	}
}

// TestGRO checks that every method of the GRO benchmarks moves all the
// datagrams of two rounds, in order and intact (the C floor: in number).
func TestGRO(t *testing.T) {
	const n = 60 // fits the default receive buffer, plain or coalesced
	want := groPayloads(n)
	for _, m := range groMethods {
		t.Run(m.name, func(t *testing.T) {
			g := newGRORig(t, n, false)
			send, drain, err := m.open(g)
			if err == errSkip {
				t.Skip(errNoC)
			}
			if err != nil {
				t.Fatal(err)
			}
			g.rx.SetReadDeadline(time.Now().Add(10 * time.Second))
			for round := range 2 {
				if err := send(n); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				got := 0
				err := drain(n, func(i int, p []byte) {
					if i != got {
						t.Fatalf("datagram %d after %d", i, got)
					}
					got++
					if m.name != "C-mmsg-1024" && !bytes.Equal(p, want[i*groPayload:(i+1)*groPayload]) {
						t.Fatalf("round %d, datagram %d: %d bytes, wrong content", round, i, len(p))
					}
					if len(p) != groPayload {
						t.Fatalf("round %d, datagram %d: %d bytes", round, i, len(p))
					}
				})
				if err != nil || got != n {
					t.Fatalf("round %d: received %d of %d: %v", round, got, n, err)
				}
			}
		})
	}
}

// TestGRONoGSODetected checks that the GSO+GRO method's drain fails when
// the datagrams were not sent with GSO, as after a fallback.
func TestGRONoGSODetected(t *testing.T) {
	const n = 60
	g := newGRORig(t, n, false)
	_, drain, err := openGROGSO(g)
	if err != nil {
		t.Fatal(err)
	}
	g.rx.SetReadDeadline(time.Now().Add(10 * time.Second))
	payloads := groPayloads(n)
	plain := make([]mmsg.Message, n)
	for i := range plain {
		plain[i] = mmsg.Message{Buffers: [][]byte{payloads[i*groPayload : (i+1)*groPayload]}, Addr: addrOf(g.rx)}
	}
	if sent, err := g.s.WriteBatch(plain, 0); err != nil || sent != n {
		t.Fatalf("sent %d of %d: %v", sent, n, err)
	}
	if err := drain(n, nil); err == nil || !strings.Contains(err.Error(), "GSO was not used") {
		t.Fatalf("drain of plain datagrams: %v, want the GSO-not-used error", err)
	}
}
