// Package bench compares the receive and send paths of
// github.com/go-mmsg/mmsg with net.UDPConn, golang.org/x/net/ipv4 and a C
// recvmmsg/sendmmsg floor. It is a separate module so that the library
// keeps golang.org/x/sys as its only dependency.
//
// The benchmarks are Linux-only (the C floor also needs cgo); on other
// systems this package is empty:
//
//	go test -run '^$' -bench . -benchmem   # raw benchmark output
//	./run.sh                               # everything, as a markdown table
//	go test ./...                          # quick correctness tests
//
// BenchmarkDrain fills a receive queue (SO_RCVBUFFORCE, so it needs root or
// CAP_NET_ADMIN) outside the measured time and then times draining it.
// BenchmarkSend times sending to a receiver that never reads and whose
// tiny buffer drops almost everything, so that only the send path is
// measured. In both, one op is one datagram: ns/op is wall time per
// datagram, cpu-ns/dgram is process CPU time (getrusage, user+sys) per
// datagram and allocs/dgram counts heap allocations per datagram.
// BenchmarkDrainPaired drains with two methods in alternating rounds and
// reports the median per-round cost ratio (cpu-A/B, wall-A/B): on a busy
// machine it is much steadier than comparing separate runs.
// BenchmarkSendPaired does the same for senders (Conn.WriteBatch of 64 and
// 256 messages, raw Sendmmsg, net.UDPConn, against the C sendmmsg floor)
// on one sending socket, into a receiver that queues whole rounds and is
// emptied between them outside the timed part (-send.sink=queue; or one
// that drops everything, -send.sink=drop). BenchmarkBatch1Paired compares
// one-message ReadBatch and WriteBatch calls with ReadFromUDPAddrPort and
// WriteToUDPAddrPort. System calls per datagram come from run.sh (perf
// tracepoints, or strace); PAIRED=new ./run.sh runs only the paired send
// and batch-1 benchmarks, PAIRED=all every paired one.
package bench
