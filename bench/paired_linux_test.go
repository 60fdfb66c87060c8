//go:build linux

package bench

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/go-mmsg/mmsg"
	"golang.org/x/sys/unix"
)

// The paired benchmarks of the send side and of one-datagram calls. Like
// BenchmarkDrainPaired, each runs two methods A and B on the same sockets
// in alternating rounds (A then B, B then A, ...), so that both see the
// same machine, and reports medians over the rounds:
//
//   - cpu-A/B, wall-A/B: A's process CPU time (getrusage, user+sys, every
//     thread) and wall time for the round over B's, for the same number of
//     datagrams;
//   - A-cpu-ns/dgram, B-cpu-ns/dgram: each method's CPU per datagram;
//   - A-allocs/dgram, B-allocs/dgram: heap allocations per datagram (over
//     all rounds), which for the one-datagram methods is per call.
//
// One op is one datagram moved by each method. Before the first round each
// method runs one round whose figures are discarded (first-use costs:
// pools, page faults).
//
// BenchmarkSendPaired sends to a receiver chosen by -send.sink (see
// newSendSink); BenchmarkBatch1Paired compares ReadBatch and WriteBatch of
// one message, written as a consumer would, with net.UDPConn's
// ReadFromUDPAddrPort (drained as in BenchmarkDrain) and
// WriteToUDPAddrPort (sent as in BenchmarkSendPaired).

// Rounds of 2048 datagrams (about 1.7 MB of queued receive buffer at 832
// bytes each, a few ms per method) were the steadiest on a loaded 2-core
// machine: the spread over 4 runs of Conn-256 vs the C floor grew from
// 0.6% to 2% at 4096 and 6% at 16384, whose rounds are fewer, longer (more
// often interrupted) and leave a larger working set of buffers.
var (
	sendN        = flag.Int("send.n", 2048, "datagrams per round of the paired send benchmarks")
	sendSinkMode = flag.String("send.sink", "queue", "receiver of the paired send benchmarks: "+
		"queue (holds a whole round, emptied between rounds outside the timed part) or "+
		"drop (never read, smallest buffer: drops nearly every datagram)")
)

// pairSide runs one round of k datagrams with one method, with b's timer
// running during the timed part only, and returns the CPU and wall time of
// that part and the heap allocations made in it.
type pairSide func(k int) (cpu, wall time.Duration, allocs uint64)

// runPaired alternates sides[0] (A) and sides[1] (B) in rounds of up to
// roundN datagrams until each has moved b.N, and reports the metrics
// described at the top of this file.
func runPaired(b *testing.B, roundN int, sides [2]pairSide) {
	b.StopTimer()
	for _, side := range sides {
		side(roundN) // warm-up, discarded
	}
	var cpuRatios, wallRatios []float64
	var cpuPer [2][]float64
	var allocs [2]uint64
	for round, left := 0, b.N; left > 0; round++ {
		k := min(left, roundN)
		var cpu, wall [2]time.Duration
		for j := range 2 {
			i := (round + j) % 2
			var a uint64
			cpu[i], wall[i], a = sides[i](k)
			allocs[i] += a
			cpuPer[i] = append(cpuPer[i], float64(cpu[i].Nanoseconds())/float64(k))
		}
		cpuRatios = append(cpuRatios, float64(cpu[0])/float64(max(cpu[1], 1)))
		wallRatios = append(wallRatios, float64(wall[0])/float64(max(wall[1], 1)))
		left -= k
	}
	b.ReportMetric(median(cpuRatios), "cpu-A/B")
	b.ReportMetric(median(wallRatios), "wall-A/B")
	b.ReportMetric(median(cpuPer[0]), "A-cpu-ns/dgram")
	b.ReportMetric(median(cpuPer[1]), "B-cpu-ns/dgram")
	b.ReportMetric(float64(allocs[0])/float64(b.N), "A-allocs/dgram")
	b.ReportMetric(float64(allocs[1])/float64(b.N), "B-allocs/dgram")
}

// sendSink is the receiver of the paired send benchmarks, in one of two
// modes (-send.sink). Either way, every datagram of every round costs the
// kernel the same, whichever method sent it:
//
//   - queue (the default): the receive buffer (SO_RCVBUFFORCE) holds a
//     whole round with room to spare and is empty when each timed send
//     starts; after it, outside the timed part, the sink waits until all
//     k datagrams are queued (SO_MEMINFO), fails on any drop, and empties
//     the queue with recvmmsg. The kernel takes its normal delivery path
//     (loopback hands each datagram to the receiving socket within the
//     send call) and the benchmark proves that every datagram arrived.
//   - drop: a socket that is never read and has the smallest buffer, as in
//     BenchmarkSend. After its first datagrams it is full for good, so the
//     kernel drops every datagram at the socket (the drop path: sk_drops
//     and the UDP RcvbufErrors counter, the buffer freed at once).
//
// What neither allows is a receiver that sometimes keeps up and sometimes
// overflows, whose cost would depend on when it ran relative to the sender.
//
// The sink is a bare socket, not a net.UDPConn: registered with Go's
// poller (epoll), each queued datagram would call the epoll callback and
// could wake a thread of this process blocked in epoll_wait, CPU that
// would be charged to whichever method happened to be sending.
type sendSink struct {
	fd       int
	addr     netip.AddrPort
	queue    bool
	truesize int       // queue mode: receive buffer charged per datagram
	rb       *rawBatch // queue mode: for emptying the queue
	n        int       // largest round
}

// newSendSink makes a sink for rounds of up to n datagrams. With force the
// queue mode needs SO_RCVBUFFORCE (root; the benchmark skips without);
// without it, n shrinks to what the default buffer holds.
func newSendSink(tb testing.TB, mode string, n int, force bool) *sendSink {
	if mode != "queue" && mode != "drop" {
		tb.Fatalf("-send.sink=%q: want queue or drop", mode)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	s := &sendSink{fd: fd, addr: netip.AddrPortFrom(netip.AddrFrom4(sa.(*unix.SockaddrInet4).Addr),
		uint16(sa.(*unix.SockaddrInet4).Port)), queue: mode == "queue", n: n}
	if !s.queue {
		// The kernel raises 1 to its minimum (SOCK_MIN_RCVBUF).
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1); err != nil {
			tb.Fatal(err)
		}
		return s
	}
	s.rb = newRawBatch(cVlen)
	s.truesize = s.measureTruesize(tb)
	want := n * s.truesize * 5 / 4 // room for every datagram, and a margin
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, want)
	switch {
	case err == nil:
	case force:
		tb.Skipf("SO_RCVBUFFORCE: %v: the paired send benchmarks need root or CAP_NET_ADMIN "+
			"to queue %d datagrams without drops", err, n)
	default:
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, want); err != nil {
			tb.Fatal(err)
		}
	}
	_, rcvbuf, _ := memInfo(tb, fd)
	if fit := int(rcvbuf) / s.truesize * 4 / 5; fit < n {
		if force {
			tb.Fatalf("receive buffer %d holds only %d of %d datagrams", rcvbuf, fit, n)
		}
		s.n = fit
	}
	return s
}

// measureTruesize sends one datagram of payloadSize bytes to the sink and
// reads what the kernel charges its receive buffer for it.
func (s *sendSink) measureTruesize(tb testing.TB) int {
	tx := listenUDP(tb)
	before, _, _ := memInfo(tb, s.fd)
	if _, err := tx.WriteToUDPAddrPort(make([]byte, payloadSize), s.addr); err != nil {
		tb.Fatal(err)
	}
	var ts int
	for deadline := time.Now().Add(5 * time.Second); ts == 0; {
		after, _, _ := memInfo(tb, s.fd)
		ts = int(after - before)
		if ts == 0 && time.Now().After(deadline) {
			tb.Fatal("the probe datagram never arrived")
		}
	}
	if n := s.empty(tb); n != 1 {
		tb.Fatalf("the probe left %d datagrams", n)
	}
	return ts
}

// round sends k datagrams with send, timing only the send, and returns its
// CPU and wall time and heap allocations. In queue mode it then checks
// that all k arrived and empties the queue. tb's timer, if it is a
// *testing.B, runs during the send only.
func (s *sendSink) round(tb testing.TB, send sendFunc, k int) (cpu, wall time.Duration, allocs uint64) {
	if k > s.n {
		tb.Fatalf("round of %d datagrams > %d", k, s.n)
	}
	var drops0 uint32
	if s.queue {
		var rmem uint32
		rmem, _, drops0 = memInfo(tb, s.fd)
		if rmem != 0 {
			tb.Fatalf("receive queue not empty before the send (%d bytes)", rmem)
		}
	}
	b, _ := tb.(*testing.B)
	a0 := heapObjects()
	if b != nil {
		b.StartTimer()
	}
	t0, c0 := time.Now(), cpuNow()
	got, err := send(k)
	cpu, wall = cpuNow()-c0, time.Since(t0)
	if b != nil {
		b.StopTimer()
	}
	allocs = heapObjects() - a0
	if err != nil || got != k {
		tb.Fatalf("sent %d of %d: %v", got, k, err)
	}
	if s.queue {
		waitQueued(tb, s.fd, k, s.truesize, drops0)
		if n := s.empty(tb); n != k {
			tb.Fatalf("the sink received %d datagrams, want %d", n, k)
		}
	}
	return cpu, wall, allocs
}

// empty receives everything queued on the sink and returns the count.
func (s *sendSink) empty(tb testing.TB) int {
	got, used := 0, len(s.rb.hdrs)
	for {
		for j := range s.rb.hdrs[:used] {
			s.rb.hdrs[j].Hdr.Namelen = unix.SizeofSockaddrInet6
		}
		n, err := mmsg.Recvmmsg(s.fd, s.rb.hdrs, 0, nil)
		if errors.Is(err, unix.EAGAIN) {
			return got
		}
		if err != nil {
			tb.Fatal(err)
		}
		got += n
		used = n
	}
}

// sendPairs are the comparisons behind the send-side targets, A vs B.
var sendPairs = [][2]string{
	{"mmsg-Conn-256", "C-sendmmsg-1024"},
	{"mmsg-Conn-64", "C-sendmmsg-1024"},
	{"mmsg-raw-256", "C-sendmmsg-1024"},
	{"net-WriteTo", "mmsg-Conn-256"},
}

// openSendPair opens the two send methods named by p on one sending socket
// to the sink s.
func openSendPair(tb testing.TB, s *sendSink, p [2]string) [2]sendFunc {
	methods := map[string]sendMethod{"mmsg-raw-1": {"mmsg-raw-1", 1, openRawWrite}}
	for _, m := range sendMethods() {
		methods[m.name] = m
	}
	ms := [2]sendMethod{methods[p[0]], methods[p[1]]}
	if ms[0].open == nil || ms[1].open == nil {
		tb.Fatalf("unknown send method in %v", p)
	}
	r := newSendRig(tb, s.addr, max(ms[0].batch, ms[1].batch))
	var sends [2]sendFunc
	for i, m := range ms {
		send, err := m.open(r, m.batch)
		if err == errSkip {
			tb.Skip(errNoC)
		}
		if err != nil {
			tb.Fatal(err)
		}
		sends[i] = send
	}
	return sends
}

// BenchmarkSendPaired compares two send methods (sendPairs) on the same
// sending socket and the same sink, in alternating rounds of -send.n
// datagrams; see the top of this file.
func BenchmarkSendPaired(b *testing.B) {
	for _, p := range sendPairs {
		b.Run(p[0]+"_vs_"+p[1], func(b *testing.B) {
			s := newSendSink(b, *sendSinkMode, *sendN, true)
			sends := openSendPair(b, s, p)
			runPaired(b, s.n, [2]pairSide{
				func(k int) (time.Duration, time.Duration, uint64) { return s.round(b, sends[0], k) },
				func(k int) (time.Duration, time.Duration, uint64) { return s.round(b, sends[1], k) },
			})
		})
	}
}

// batch1Pairs are the one-datagram comparisons: name, then the drain or
// send methods A and B. The Recvmmsg-1 and Sendmmsg-1 pairs (raw calls of
// one message, no Conn) show what the system call alone costs against
// net's recvfrom(2) and sendto(2).
var batch1Pairs = []struct{ name, kind, a, b string }{
	{"ReadBatch-1_vs_net-ReadFrom", "read", "mmsg-Conn-1", "net-ReadFrom"},
	{"Recvmmsg-1_vs_net-ReadFrom", "read", "mmsg-raw-1", "net-ReadFrom"},
	{"WriteBatch-1_vs_net-WriteTo", "write", "mmsg-Conn-1", "net-WriteTo"},
	{"Sendmmsg-1_vs_net-WriteTo", "write", "mmsg-raw-1", "net-WriteTo"},
}

// batch1Read are the drain methods of batch1Pairs.
var batch1Read = map[string]func(*drainRig) (drainFunc, error){
	"mmsg-Conn-1":  openConnRead1,
	"mmsg-raw-1":   openRawRead(1),
	"net-ReadFrom": openNetRead,
}

// BenchmarkBatch1Paired compares one-message ReadBatch and WriteBatch
// calls (a slice literal per call, as a consumer writes them) with
// net.UDPConn's ReadFromUDPAddrPort (draining the same queue as in
// BenchmarkDrainPaired, -drain.n per round) and WriteToUDPAddrPort (on the
// same socket and sink as in BenchmarkSendPaired, -send.n per round).
func BenchmarkBatch1Paired(b *testing.B) {
	for _, p := range batch1Pairs {
		b.Run(p.name, func(b *testing.B) {
			if p.kind == "write" {
				s := newSendSink(b, *sendSinkMode, *sendN, true)
				sends := openSendPair(b, s, [2]string{p.a, p.b})
				runPaired(b, s.n, [2]pairSide{
					func(k int) (time.Duration, time.Duration, uint64) { return s.round(b, sends[0], k) },
					func(k int) (time.Duration, time.Duration, uint64) { return s.round(b, sends[1], k) },
				})
				return
			}
			r := newDrainRig(b, *drainN, true)
			var drains [2]drainFunc
			for i, name := range []string{p.a, p.b} {
				d, err := batch1Read[name](r)
				if err != nil {
					b.Fatal(err)
				}
				drains[i] = d
			}
			runPaired(b, r.n, [2]pairSide{
				func(k int) (time.Duration, time.Duration, uint64) { return r.timedDrain(b, drains[0], k) },
				func(k int) (time.Duration, time.Duration, uint64) { return r.timedDrain(b, drains[1], k) },
			})
		})
	}
}

// TestSendSink runs two rounds of every paired send method into each kind
// of sink; in queue mode a round fails unless every datagram arrived.
func TestSendSink(t *testing.T) {
	pairs := slices.Clone(sendPairs)
	for _, p := range batch1Pairs {
		if p.kind == "write" {
			pairs = append(pairs, [2]string{p.a, p.b})
		}
	}
	for _, mode := range []string{"queue", "drop"} {
		for _, p := range pairs {
			t.Run(fmt.Sprintf("%s/%s_vs_%s", mode, p[0], p[1]), func(t *testing.T) {
				s := newSendSink(t, mode, 600, false)
				sends := openSendPair(t, s, p)
				for round := range 2 {
					for i := range 2 {
						_, wall, _ := s.round(t, sends[(round+i)%2], s.n)
						if wall <= 0 {
							t.Fatalf("round %d: %s took %v", round, p[(round+i)%2], wall)
						}
					}
				}
				if s.queue {
					if rmem, _, _ := memInfo(t, s.fd); rmem != 0 {
						t.Fatalf("%d bytes left in the sink's queue", rmem)
					}
				}
			})
		}
	}
}
