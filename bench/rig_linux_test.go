//go:build linux

package bench

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/go-mmsg/mmsg"
	"golang.org/x/sys/unix"
)

const (
	payloadSize = 64   // bytes per datagram
	bufSize     = 1500 // receive buffer per message, the same for every method
	cVlen       = 1024 // vlen of the C floor
)

// batchSizes are the batch sizes of the Go batch APIs.
var batchSizes = []int{8, 64, 256}

var drainN = flag.Int("drain.n", 4096, "datagrams queued per drain round")

// cpuNow is the CPU time (user + system) of the whole process so far:
// every thread counts, the runtime's and the garbage collector's too.
func cpuNow() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapObjects is the number of heap allocations so far. It stops the
// world, so it is called outside the measured windows only (and, unlike
// runtime/metrics, it does not allocate itself).
func heapObjects() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// tally appends "NAME DATAGRAMS" to the file named by $MMSG_BENCH_TALLY, so
// that run.sh can divide the system calls perf counted by the datagrams
// moved (the testing package runs each benchmark more than once).
func tally(tb testing.TB, name string, n int) {
	path := os.Getenv("MMSG_BENCH_TALLY")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %d\n", name, n); err != nil {
		tb.Fatal(err)
	}
}

func listenUDP(tb testing.TB) *net.UDPConn {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// fdOf returns the descriptor of c. It stays valid until c is closed.
func fdOf(tb testing.TB, c *net.UDPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil {
		tb.Fatal(err)
	}
	return fd
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// memInfo returns the socket's SO_MEMINFO counters (SK_MEMINFO_*).
func memInfo(tb testing.TB, fd int) (rmemAlloc, rcvbuf, drops uint32) {
	var m [9]uint32
	l := uint32(unsafe.Sizeof(m))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&m)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		tb.Fatalf("getsockopt(SO_MEMINFO): %v", e)
	}
	return m[0], m[1], m[8]
}

// drainRig is a receiver socket and a connected sender that fills the
// receiver's queue with numbered datagrams.
type drainRig struct {
	rx, tx     *net.UDPConn
	rxFd, txFd int
	txAddr     netip.AddrPort
	n          int // datagrams per round
	truesize   int // kernel memory charged per queued datagram
	fillHdrs   []mmsg.Mmsghdr
}

// newDrainRig makes a rig for rounds of n datagrams. With force, the
// receive buffer is sized with SO_RCVBUFFORCE and the benchmark is skipped
// when that is not permitted; without it SO_RCVBUF is used (capped by
// net.core.rmem_max) and n shrinks to what the buffer holds.
func newDrainRig(tb testing.TB, n int, force bool) *drainRig {
	r := &drainRig{rx: listenUDP(tb)}
	r.rxFd = fdOf(tb, r.rx)
	tx, err := net.DialUDP("udp4", nil, r.rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tx.Close() })
	r.tx, r.txFd, r.txAddr = tx, fdOf(tb, tx), addrOf(tx)

	r.setupFill(max(n, cVlen))
	r.truesize = r.measureTruesize(tb)
	want := n * r.truesize * 5 / 4 // room for every datagram, and a margin
	err = unix.SetsockoptInt(r.rxFd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, want)
	switch {
	case err == nil:
	case force:
		tb.Skipf("SO_RCVBUFFORCE: %v: the drain benchmark needs root or CAP_NET_ADMIN "+
			"to queue %d datagrams without drops", err, n)
	default:
		if err := r.rx.SetReadBuffer(want); err != nil {
			tb.Fatal(err)
		}
	}
	_, rcvbuf, _ := memInfo(tb, r.rxFd)
	if fit := int(rcvbuf) / r.truesize * 4 / 5; fit < n {
		if force {
			tb.Fatalf("receive buffer %d holds only %d of %d datagrams", rcvbuf, fit, n)
		}
		n = fit
	}
	r.n = n
	return r
}

// setupFill prepares headers for up to max datagrams; datagram i carries
// i in its first 8 bytes.
func (r *drainRig) setupFill(max int) {
	r.fillHdrs = make([]mmsg.Mmsghdr, max)
	iovs := make([]unix.Iovec, max)
	payloads := make([]byte, max*payloadSize)
	for i := range r.fillHdrs {
		p := payloads[i*payloadSize : (i+1)*payloadSize]
		binary.LittleEndian.PutUint64(p, uint64(i))
		iovs[i].Base = &p[0]
		iovs[i].SetLen(payloadSize)
		r.fillHdrs[i].Hdr.Iov = &iovs[i]
		r.fillHdrs[i].Hdr.SetIovlen(1)
	}
}

// measureTruesize queues one datagram and reads what the kernel charges
// the receive buffer for it.
func (r *drainRig) measureTruesize(tb testing.TB) int {
	before, _, _ := memInfo(tb, r.rxFd)
	if _, err := mmsg.Sendmmsg(r.txFd, r.fillHdrs[:1], 0); err != nil {
		tb.Fatal(err)
	}
	var ts int
	for deadline := time.Now().Add(5 * time.Second); ts == 0; {
		after, _, _ := memInfo(tb, r.rxFd)
		ts = int(after - before)
		if ts == 0 && time.Now().After(deadline) {
			tb.Fatal("the probe datagram never arrived")
		}
	}
	buf := make([]byte, bufSize)
	if _, _, err := r.rx.ReadFromUDPAddrPort(buf); err != nil {
		tb.Fatal(err)
	}
	return ts
}

// fill queues k datagrams (numbered 0..k-1) on the receiver and returns
// once all of them are in its queue. Any drop fails the benchmark.
func (r *drainRig) fill(tb testing.TB, k int) {
	if k > len(r.fillHdrs) {
		tb.Fatalf("fill %d > %d", k, len(r.fillHdrs))
	}
	rmem0, _, drops0 := memInfo(tb, r.rxFd)
	if rmem0 != 0 {
		tb.Fatalf("receive queue not empty before the fill (%d bytes)", rmem0)
	}
	// Net's deadline only guards the Go read paths against a hang if a
	// datagram went missing anyway; it is far in the future.
	if err := r.rx.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		tb.Fatal(err)
	}
	for sent := 0; sent < k; {
		n, err := mmsg.Sendmmsg(r.txFd, r.fillHdrs[sent:k], 0)
		if errors.Is(err, unix.EAGAIN) {
			time.Sleep(10 * time.Microsecond)
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		sent += n
	}
	waitQueued(tb, r.rxFd, k, r.truesize, drops0)
}

// waitQueued returns once k datagrams of truesize bytes each are in the
// (before empty) receive queue of fd. Any drop since the counter read
// drops0 fails the benchmark.
func waitQueued(tb testing.TB, fd, k, truesize int, drops0 uint32) {
	// Loopback normally delivers within the send call; when softirqs are
	// deferred to ksoftirqd, wait for them.
	want := uint32(k * truesize)
	for deadline := time.Now().Add(5 * time.Second); ; {
		rmem, _, drops := memInfo(tb, fd)
		if drops != drops0 {
			tb.Fatalf("the receiver dropped %d of %d datagrams: the benchmark is invalid", drops-drops0, k)
		}
		if rmem >= want {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d bytes (%d datagrams of %d bytes) queued after 5s: "+
				"dropped before the socket (netdev backlog?)", rmem, want, k, truesize)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// checkFunc checks datagram i of a round: its payload and its source.
type checkFunc func(i int, p []byte, from netip.AddrPort)

// drainFunc receives exactly want datagrams; check, if not nil, sees each.
type drainFunc func(want int, check checkFunc) (int, error)

// errSkip from an open function skips the method: the C floor without cgo.
var errSkip = errors.New("skip")

const errNoC = "the C floor is not built: it needs cgo (CGO_ENABLED=1 and a C compiler)"

// errShort reports a drain that found the queue empty too early.
func errShort(got, want int) error {
	return fmt.Errorf("queue ran dry after %d of %d datagrams: %w", got, want, syscall.EAGAIN)
}
