package main

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const out = `goos: linux
BenchmarkDrain/net-ReadFrom-2   	  1000	  400.0 ns/op	  0 allocs/dgram	  410.0 cpu-ns/dgram	  0 B/op	  0 allocs/op
BenchmarkDrain/mmsg-Conn-256-2  	  1000	  300.0 ns/op	  0 allocs/dgram	  305.0 cpu-ns/dgram	  0 B/op	  0 allocs/op
BenchmarkDrain/mmsg-Conn-256-2  	  1000	  310.0 ns/op	  0 allocs/dgram	  315.0 cpu-ns/dgram	  0 B/op	  0 allocs/op
BenchmarkDrain/mmsg-Conn-256-2  	  1000	  900.0 ns/op	  0 allocs/dgram	  905.0 cpu-ns/dgram	  0 B/op	  0 allocs/op
BenchmarkDrain/C-recvmmsg-1024-2	  1000	  290.0 ns/op	  0 allocs/dgram	  300.0 cpu-ns/dgram	  0 B/op	  0 allocs/op
PASS
`
	d, err := parse(strings.NewReader(out), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.order) != 3 || d.order[1] != (key{"Drain", "mmsg-Conn-256"}) {
		t.Fatalf("keys %v", d.order)
	}
	if got := d.med(d.order[1], "cpu-ns/dgram"); got != 315 {
		t.Errorf("median %v, want 315", got)
	}
	if err := d.parseSyscalls(strings.NewReader("Drain/mmsg-Conn-256 40 10000\n")); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	d.write(&b)
	for _, want := range []string{"| mmsg-Conn-256 | 310.0 | 315.0 | 305.0 |", "+5.0%", "1.30x", "| 0.0040 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestPaired(t *testing.T) {
	const out = `BenchmarkSendPaired/mmsg-Conn-256_vs_C-sendmmsg-1024-2  1000  900 ns/op  0 A-allocs/dgram  410 A-cpu-ns/dgram  0 B-allocs/dgram  400 B-cpu-ns/dgram  1.020 cpu-A/B  1.010 wall-A/B
BenchmarkSendPaired/mmsg-Conn-256_vs_C-sendmmsg-1024-2  1000  900 ns/op  0 A-allocs/dgram  420 A-cpu-ns/dgram  0 B-allocs/dgram  400 B-cpu-ns/dgram  1.040 cpu-A/B  1.000 wall-A/B
BenchmarkSendPaired/mmsg-Conn-256_vs_C-sendmmsg-1024-2  1000  900 ns/op  0 A-allocs/dgram  430 A-cpu-ns/dgram  0 B-allocs/dgram  400 B-cpu-ns/dgram  1.030 cpu-A/B  1.020 wall-A/B
BenchmarkBatch1Paired/WriteBatch-1_vs_net-WriteTo-2  1000  900 ns/op  2 A-allocs/dgram  410 A-cpu-ns/dgram  0 B-allocs/dgram  400 B-cpu-ns/dgram  1.200 cpu-A/B  1.250 wall-A/B
BenchmarkGROPaired/mmsg-GSO-GRO-50_vs_C-mmsg-1024-2  1000  900 ns/op  0.09 cpu-A/B  8.9 rate-A/B
`
	d, err := parse(strings.NewReader(out), 2)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	d.write(&b)
	for _, want := range []string{
		"### BenchmarkSendPaired (median (min-max) over 3 runs)",
		"| mmsg-Conn-256_vs_C-sendmmsg-1024 | 1.030 (1.020-1.040) | 1.010 (1.000-1.020) | 420 (410-430) | 400 |",
		"| WriteBatch-1_vs_net-WriteTo | 1.200 | 1.250 | 410 | 400 | 2.00 | 0 |",
		"| mmsg-GSO-GRO-50_vs_C-mmsg-1024 | 0.090 | 8.900 |",
		"| Conn.WriteBatch 256 within 5% of C sendmmsg (vlen 1024) | +3.0% (+2.0% to +4.0%) | +1.0% (+0.0% to +2.0%) | 0 | met |",
		"| Conn.WriteBatch of 1 no slower than WriteToUDPAddrPort | +20.0% | +25.0% | 2.00 | MISSED |",
		"| Conn.WriteBatch 64 within 5% of C sendmmsg (vlen 1024) | n/a | n/a | n/a | not measured |",
		"| one-message ReadBatch and WriteBatch (slice literal per call): 0 allocations | | | 2.00 | MISSED |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "Targets (Drain") {
		t.Errorf("drain targets printed without drain results:\n%s", b.String())
	}
}
