// Command mmsg-demo shows what batching buys on this machine. For a few
// seconds per mode it sends 64-byte datagrams as fast as it can from one
// loopback (127.0.0.1) socket to another and receives them, first with
// net.UDPConn (one datagram per system call), then with mmsg.Conn at
// several batch sizes. Progress goes to stderr; a table of datagrams
// received per second, drops (sent - received), process CPU time per
// received datagram and the speed-up over net.UDPConn goes to stdout.
//
//	go run github.com/go-mmsg/mmsg/cmd/mmsg-demo@latest
//	go run ./cmd/mmsg-demo -duration 5s -size 512 -batches 1,32,1024
//
// Batching needs Linux or FreeBSD; elsewhere mmsg.Conn moves one datagram
// per system call and the demo says so.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// config is what the flags say.
type config struct {
	duration time.Duration
	size     int
	batches  []int
	gro      bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("mmsg-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mmsg-demo [flags]\n\nCompares net.UDPConn with mmsg.Conn batches over 127.0.0.1.")
		fs.PrintDefaults()
	}
	duration := fs.Duration("duration", 2*time.Second, "how long each mode sends (at most 1m)")
	size := fs.Int("size", 64, "payload bytes per datagram (1-65507)")
	batches := fs.String("batches", "1,8,64,256", "comma-separated mmsg.Conn batch sizes (1-1024)")
	quick := fs.Bool("quick", false, "very short runs (100ms per mode), for tests")
	gro := fs.Bool("gro", groDefault, "add a UDP GSO+GRO row (Linux)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c := config{duration: *duration, size: *size, gro: *gro}
	if *quick {
		c.duration = 100 * time.Millisecond
	}
	if c.duration <= 0 || c.duration > time.Minute {
		return c, fmt.Errorf("-duration %v: want more than 0 and at most 1m", c.duration)
	}
	if c.size < 1 || c.size > 65507 {
		return c, fmt.Errorf("-size %d: want 1 to 65507", c.size)
	}
	for _, f := range strings.Split(*batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 || b > 1024 {
			return c, fmt.Errorf("-batches: %q is not a batch size from 1 to 1024", f)
		}
		c.batches = append(c.batches, b)
	}
	if len(c.batches) > 16 {
		return c, errors.New("-batches: at most 16 sizes")
	}
	return c, nil
}

// run is the whole command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mmsg-demo:", err)
		return 2
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "freebsd" {
		fmt.Fprintf(stderr, "mmsg-demo: batching is Linux/FreeBSD-only; on %s mmsg.Conn falls back to "+
			"one datagram per system call, so expect no speed-up here.\n", runtime.GOOS)
	}
	modes := []mode{{name: "net.UDPConn", batch: 1}}
	for _, b := range cfg.batches {
		modes = append(modes, mode{name: "mmsg.Conn", batch: b})
	}
	if cfg.gro {
		modes = append(modes, mode{name: "GSO+GRO", batch: groSegments(cfg.size)})
	}
	var results []result
	for _, m := range modes {
		r, err := runMode(m, cfg, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "mmsg-demo: %s batch %d: %v\n", m.name, m.batch, err)
			return 1
		}
		results = append(results, r)
	}
	fmt.Fprintf(stdout, "%d-byte datagrams over 127.0.0.1, %v per mode, %s/%s, %d CPUs\n\n",
		cfg.size, cfg.duration, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	printTable(stdout, results)
	return 0
}

func printTable(w io.Writer, rs []result) {
	fmt.Fprintf(w, "%-12s %5s %12s %12s %12s %12s %10s %9s\n",
		"mode", "batch", "received/s", "received", "sent", "drops", "CPU/dgram", "speed-up")
	base := rs[0].rate()
	for _, r := range rs {
		cpu := "n/a"
		if r.cpu >= 0 && r.received > 0 {
			cpu = fmt.Sprintf("%.0fns", float64(r.cpu.Nanoseconds())/float64(r.received))
		}
		speedup := "n/a"
		if base > 0 {
			speedup = fmt.Sprintf("%.2fx", r.rate()/base)
		}
		fmt.Fprintf(w, "%-12s %5d %12.0f %12d %12d %12d %10s %9s\n",
			r.name, r.batch, r.rate(), r.received, r.sent, r.drops(), cpu, speedup)
	}
	fmt.Fprintln(w, "\nreceived/s: datagrams received per second of sending; drops = sent - received;")
	fmt.Fprintln(w, "CPU/dgram: CPU time of the whole process (sender and receiver) per datagram received.")
	fmt.Fprintln(w, "Over loopback the sender also runs the kernel's receive path up to the socket queue,")
	fmt.Fprintln(w, "so sending is usually the bottleneck: batching speeds up both sides.")
	fmt.Fprintln(w, "GSO+GRO: mmsg.Conn with UDP GSO and GRO, 8 messages per call; batch = datagrams per message.")
}
