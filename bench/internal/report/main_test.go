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
