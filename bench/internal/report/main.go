// Command report turns the output of the bench module's benchmarks into
// markdown tables: the median of every metric over the -count runs, ratios
// against the C floor and against net.UDPConn, allocations and system calls
// per datagram, the paired benchmarks' ratios (median and range over the
// runs), and a check of the performance targets. run.sh calls it:
//
//	go run ./internal/report -procs 2 -syscalls syscalls.txt bench.txt
//
// The syscalls file has lines "Drain/NAME CALLS DATAGRAMS" (CALLS counted
// by perf or strace while the benchmark moved DATAGRAMS datagrams).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

type key struct{ kind, name string } // "Drain", "mmsg-Conn-256"

type sample map[string][]float64 // unit -> values, one per run

type data struct {
	order    []key
	samples  map[key]sample
	syscalls map[key]float64 // per datagram
	sysTool  string
}

func main() {
	procs := flag.Int("procs", 1, "GOMAXPROCS of the run (go test appends -N to the names when N > 1)")
	sysFile := flag.String("syscalls", "", "file of system-call counts (see the package comment)")
	sysTool := flag.String("systool", "perf", "what counted the system calls, for the table's note")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: report [-procs N] [-syscalls FILE] BENCH_OUTPUT")
		os.Exit(2)
	}
	d, err := load(flag.Arg(0), *sysFile, *procs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	d.sysTool = *sysTool
	d.write(os.Stdout)
}

func load(benchFile, sysFile string, procs int) (*data, error) {
	f, err := os.Open(benchFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := parse(f, procs)
	if err != nil {
		return nil, err
	}
	if sysFile != "" {
		s, err := os.Open(sysFile)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		if err := d.parseSyscalls(s); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// parse reads `go test -bench` output.
func parse(r io.Reader, procs int) (*data, error) {
	d := &data{samples: map[key]sample{}, syscalls: map[key]float64{}}
	suffix := ""
	if procs > 1 {
		suffix = "-" + strconv.Itoa(procs)
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		kind, name, ok := strings.Cut(strings.TrimPrefix(f[0], "Benchmark"), "/")
		if !ok {
			continue
		}
		k := key{kind, strings.TrimSuffix(name, suffix)}
		s := d.samples[k]
		if s == nil {
			s = sample{}
			d.samples[k] = s
			d.order = append(d.order, k)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			s[f[i+1]] = append(s[f[i+1]], v)
		}
	}
	if len(d.order) == 0 {
		return nil, fmt.Errorf("no benchmark results found")
	}
	return d, sc.Err()
}

func (d *data) parseSyscalls(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		kind, name, _ := strings.Cut(f[0], "/")
		calls, err1 := strconv.ParseFloat(f[1], 64)
		dgrams, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil || dgrams == 0 {
			return fmt.Errorf("bad syscall line %q", sc.Text())
		}
		d.syscalls[key{kind, name}] = calls / dgrams
	}
	return sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread is (max-min)/median in percent.
func spread(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	return (slices.Max(v) - slices.Min(v)) / median(v) * 100
}

func (d *data) med(k key, unit string) float64 { return median(d.samples[k][unit]) }

// find returns the key of kind whose name starts with prefix.
func (d *data) find(kind, prefix string) (key, bool) {
	for _, k := range d.order {
		if k.kind == kind && strings.HasPrefix(k.name, prefix) {
			return k, true
		}
	}
	return key{}, false
}

func num(v float64, prec int) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func allocs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == 0:
		return "0"
	case v < 0.01:
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func (d *data) write(w io.Writer) {
	var kinds []string
	for _, k := range d.order {
		if !slices.Contains(kinds, k.kind) {
			kinds = append(kinds, k.kind)
		}
	}
	for _, kind := range kinds {
		if strings.HasSuffix(kind, "Paired") {
			continue // ratios only: used by the targets
		}
		floor, haveFloor := d.find(kind, "C-")
		base, haveBase := d.find(kind, "net-")
		fmt.Fprintf(w, "### Benchmark%s (medians of %d runs)\n\n", kind, len(d.samples[d.order[0]]["ns/op"]))
		fmt.Fprintln(w, "| method | wall ns/dgram | CPU ns/dgram | CPU min | CPU spread | CPU vs C floor | CPU speed-up vs net | allocs/dgram | syscalls/dgram |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, k := range d.order {
			if k.kind != kind {
				continue
			}
			cpu := d.med(k, "cpu-ns/dgram")
			vsFloor, vsBase := "n/a", "n/a"
			if haveFloor {
				vsFloor = fmt.Sprintf("%+.1f%%", (cpu/d.med(floor, "cpu-ns/dgram")-1)*100)
			}
			if haveBase {
				vsBase = num(d.med(base, "cpu-ns/dgram")/cpu, 2) + "x"
			}
			sys := "n/a"
			if v, ok := d.syscalls[k]; ok {
				sys = strconv.FormatFloat(v, 'f', 4, 64)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %.0f%% | %s | %s | %s | %s |\n", k.name,
				num(d.med(k, "ns/op"), 1), num(cpu, 1), num(slices.Min(d.samples[k]["cpu-ns/dgram"]), 1),
				spread(d.samples[k]["cpu-ns/dgram"]),
				vsFloor, vsBase, allocs(d.med(k, "allocs/dgram")), sys)
		}
		fmt.Fprintln(w)
	}
	if d.hasKind("Drain") || d.hasKind("Send") {
		fmt.Fprintf(w, "Medians over the runs unless marked min. "+
			"CPU: getrusage(RUSAGE_SELF) user+sys per datagram; spread = (max-min)/median. "+
			"syscalls/dgram: recvmmsg+recvmsg+recvfrom (Drain) or sendmmsg+sendmsg+sendto (Send) counted by %s.\n\n", d.sysTool)
	}
	d.paired(w, kinds)
	if d.hasKind("Drain") || d.hasKind("DrainPaired") {
		d.targets(w)
		fmt.Fprintln(w)
	}
	if d.hasKind("SendPaired") || d.hasKind("Batch1Paired") || d.hasKind("GSOFormPaired") {
		d.sendTargets(w)
	}
}

func (d *data) hasKind(kind string) bool {
	for _, k := range d.order {
		if k.kind == kind {
			return true
		}
	}
	return false
}

// pairedUnits are the metrics of the paired benchmarks, in table order.
var pairedUnits = []struct{ unit, title string }{
	{"cpu-A/B", "CPU A/B"},
	{"wall-A/B", "wall A/B"},
	{"rate-A/B", "dgrams/s A/B"},
	{"A-cpu-ns/dgram", "A CPU ns/dgram"},
	{"B-cpu-ns/dgram", "B CPU ns/dgram"},
	{"A-allocs/dgram", "A allocs/dgram"},
	{"B-allocs/dgram", "B allocs/dgram"},
}

// rangeOf formats the median of v and its range over the runs.
func rangeOf(v []float64, prec int) string {
	if len(v) == 0 {
		return "n/a"
	}
	if slices.Min(v) == slices.Max(v) {
		return num(v[0], prec)
	}
	return fmt.Sprintf("%s (%s-%s)", num(median(v), prec), num(slices.Min(v), prec), num(slices.Max(v), prec))
}

// paired prints one table per *Paired benchmark: every metric of every
// pair, as the median over the runs and its range. The ratios are each
// run's median over its rounds.
func (d *data) paired(w io.Writer, kinds []string) {
	for _, kind := range kinds {
		if !strings.HasSuffix(kind, "Paired") {
			continue
		}
		var units []string
		for _, u := range pairedUnits {
			for _, k := range d.order {
				if _, ok := d.samples[k][u.unit]; ok && k.kind == kind {
					units = append(units, u.unit)
					break
				}
			}
		}
		if len(units) == 0 {
			continue
		}
		runs := 0
		for _, k := range d.order {
			if k.kind == kind {
				runs = max(runs, len(d.samples[k][units[0]]))
			}
		}
		fmt.Fprintf(w, "### Benchmark%s (median (min-max) over %d runs)\n\n| A_vs_B |", kind, runs)
		for _, u := range units {
			for _, pu := range pairedUnits {
				if pu.unit == u {
					fmt.Fprintf(w, " %s |", pu.title)
				}
			}
		}
		fmt.Fprint(w, "\n|---|")
		for range units {
			fmt.Fprint(w, "--:|")
		}
		fmt.Fprintln(w)
		for _, k := range d.order {
			if k.kind != kind {
				continue
			}
			fmt.Fprintf(w, "| %s |", k.name)
			for _, u := range units {
				switch {
				case strings.HasSuffix(u, "allocs/dgram"):
					fmt.Fprintf(w, " %s |", allocs(d.med(k, u)))
				case strings.HasSuffix(u, "ns/dgram"):
					fmt.Fprintf(w, " %s |", rangeOf(d.samples[k][u], 0))
				default:
					fmt.Fprintf(w, " %s |", rangeOf(d.samples[k][u], 3))
				}
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
}

// sendTargets checks the goals of the send side and of one-message calls
// on the paired ratios (median over the runs; the verdict is on CPU).
func (d *data) sendTargets(w io.Writer) {
	ts := []struct {
		what  string
		kind  string
		pair  string
		limit float64
	}{
		{"Conn.WriteBatch 256 within 5% of C sendmmsg (vlen 1024)", "SendPaired", "mmsg-Conn-256_vs_C-sendmmsg-1024", 1.05},
		{"Conn.WriteBatch 64 within 5% of C sendmmsg (vlen 1024)", "SendPaired", "mmsg-Conn-64_vs_C-sendmmsg-1024", 1.05},
		{"Conn.ReadBatch of 1 no slower than ReadFromUDPAddrPort", "Batch1Paired", "ReadBatch-1_vs_net-ReadFrom", 1.00},
		{"Conn.WriteBatch of 1 no slower than WriteToUDPAddrPort", "Batch1Paired", "WriteBatch-1_vs_net-WriteTo", 1.00},
		{"GSO message, one buffer per packet (adjacent), within 5% of one contiguous buffer", "GSOFormPaired", "adjacent_vs_contiguous", 1.05},
	}
	pct := func(v []float64) string {
		if len(v) == 0 {
			return "n/a"
		}
		f := func(x float64) string { return fmt.Sprintf("%+.1f%%", (x-1)*100) }
		if len(v) == 1 {
			return f(v[0])
		}
		return fmt.Sprintf("%s (%s to %s)", f(median(v)), f(slices.Min(v)), f(slices.Max(v)))
	}
	fmt.Fprintln(w, "### Targets (send side and one-message calls, paired)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | CPU A vs B | wall A vs B | A allocs/dgram | verdict |")
	fmt.Fprintln(w, "|---|--:|--:|--:|---|")
	for _, t := range ts {
		s, ok := d.samples[key{t.kind, t.pair}]
		verdict := "not measured"
		if ok && len(s["cpu-A/B"]) > 0 {
			verdict = "MISSED"
			if median(s["cpu-A/B"]) <= t.limit {
				verdict = "met"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t.what, pct(s["cpu-A/B"]), pct(s["wall-A/B"]),
			allocs(median(s["A-allocs/dgram"])), verdict)
	}
	worst := math.NaN()
	for _, pair := range []string{"ReadBatch-1_vs_net-ReadFrom", "WriteBatch-1_vs_net-WriteTo"} {
		if s, ok := d.samples[key{"Batch1Paired", pair}]; ok && len(s["A-allocs/dgram"]) > 0 {
			if v := median(s["A-allocs/dgram"]); math.IsNaN(worst) || v > worst {
				worst = v
			}
		}
	}
	verdict := "not measured"
	if !math.IsNaN(worst) {
		verdict = "MISSED"
		if worst < 0.001 {
			verdict = "met"
		}
	}
	fmt.Fprintf(w, "| one-message ReadBatch and WriteBatch (slice literal per call): 0 allocations | | | %s | %s |\n",
		allocs(worst), verdict)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Median over the runs of each run's median per-round ratio (range over the runs); "+
		"the verdict is on CPU. allocs/dgram below 0.001 is sync.Pool refill after testing's GC, not per call.")
}

// targets checks the goals set for mmsg.Conn on the receive side, on the
// separate Drain runs (medians, and mins) and, when BenchmarkDrainPaired
// ran, on its paired ratios, which are the steadiest on a busy machine and
// decide the verdict.
func (d *data) targets(w io.Writer) {
	type target struct {
		what   string
		a, b   string  // Drain method names: the ratio is cost(a)/cost(b)
		limit  float64 // cost(a)/cost(b) <= limit, or >= limit if faster
		faster bool
	}
	ts := []target{
		{"Conn-256 within 5% of the C floor", "mmsg-Conn-256", "C-recvmmsg-1024", 1.05, false},
		{"Conn-64 within 15% of the C floor", "mmsg-Conn-64", "C-recvmmsg-1024", 1.15, false},
		{"Conn-256 >= 1.5x less CPU than net ReadFromUDPAddrPort", "net-ReadFrom", "mmsg-Conn-256", 1.5, true},
		{"(bound) C floor >= 1.5x less CPU than net ReadFromUDPAddrPort", "net-ReadFrom", "C-recvmmsg-1024", 1.5, true},
		{"Conn-256 >= 1.15x less CPU than x/net ReadBatch-256", "xnet-ReadBatch-256", "mmsg-Conn-256", 1.15, true},
	}
	ok := func(t target, r float64) bool {
		if t.faster {
			return r >= t.limit
		}
		return r <= t.limit
	}
	show := func(t target, r float64) string {
		if math.IsNaN(r) {
			return "n/a"
		}
		if t.faster {
			return fmt.Sprintf("%.2fx", r)
		}
		return fmt.Sprintf("%+.1f%%", (r-1)*100)
	}
	fmt.Fprintln(w, "### Targets (Drain, CPU per datagram)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | separate runs, medians | separate runs, mins | paired (DrainPaired) | verdict |")
	fmt.Fprintln(w, "|---|--:|--:|--:|---|")
	for _, t := range ts {
		med, low, paired := math.NaN(), math.NaN(), math.NaN()
		a, okA := d.samples[key{"Drain", t.a}]
		b, okB := d.samples[key{"Drain", t.b}]
		if okA && okB {
			med = median(a["cpu-ns/dgram"]) / median(b["cpu-ns/dgram"])
			low = slices.Min(a["cpu-ns/dgram"]) / slices.Min(b["cpu-ns/dgram"])
		}
		if p, okP := d.samples[key{"DrainPaired", t.a + "_vs_" + t.b}]; okP {
			paired = median(p["cpu-A/B"])
		}
		decide := paired
		if math.IsNaN(decide) {
			decide = med
		}
		verdict := "not measured"
		if !math.IsNaN(decide) {
			verdict = "MISSED"
			if ok(t, decide) {
				verdict = "met"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t.what, show(t, med), show(t, low), show(t, paired), verdict)
	}
	worst, found := 0.0, false
	for _, k := range d.order {
		// mmsg-Conn-1 (a slice literal per call) has its own target.
		if k.kind == "Drain" && strings.HasPrefix(k.name, "mmsg-Conn-") && k.name != "mmsg-Conn-1" {
			worst, found = max(worst, d.med(k, "allocs/dgram")), true
		}
	}
	if !found {
		worst = math.NaN()
	}
	// Below 0.001 per datagram is not per-call allocation: it is sync.Pool
	// refilling after the GC that testing runs before every benchmark.
	verdict := "not measured"
	if !math.IsNaN(worst) {
		verdict = "MISSED"
		if worst < 0.001 {
			verdict = "met (steady state; the rest is sync.Pool refill after testing's GC)"
		}
	}
	fmt.Fprintf(w, "| Conn: 0 allocations per datagram (worst batch) | %s | | | %s |\n", allocs(worst), verdict)
}
