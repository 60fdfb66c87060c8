package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	"strings"
	"sync"
	"time"
)

// A tally is what one or more runs of test binaries said.
type tally struct {
	Pass, Skip, Fail int
}

// A runReport is one VM run of one package's test binary.
type runReport struct {
	Kernel  string
	Release string
	Pkg     string
	Run     int
	Tally   tally
	Status  int // -1: none came back
	Wall    time.Duration
	Failed  []string          // failed tests (subtests included)
	Skips   map[string]string // skipped test -> its reason
	Problem string            // why the run failed when no test says so
	Blocks  map[string]string // failed test -> its output
	Output  []byte
}

// A kernelReport sums up one kernel.
type kernelReport struct {
	Row     kernelRow
	Version string // kernel release, or the image package
	Skipped string // why the kernel was not run
	Err     error  // the kernel could not be had or a binary not built
	Runs    []*runReport
	Tally   tally
	Wall    time.Duration
}

var resultRE = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)
var eventRE = regexp.MustCompile(`^=== (RUN|CONT|NAME|PAUSE)\s+(\S+)`)

// parseVerbose reads go test -test.v output: the result of every test and
// subtest, and the lines each printed (a skip's reason, a failure's
// message), which go test prints between "=== RUN/NAME/CONT X" and
// "--- RESULT: X". A failed example is the exception: its "got:" and
// "want:" come after its "--- FAIL:" line, unindented, up to the next
// test or the binary's last line.
func parseVerbose(out []byte, r *runReport) {
	r.Skips = map[string]string{}
	r.Blocks = map[string]string{}
	buf := map[string]*strings.Builder{}
	cur := ""
	example := "" // the failed example whose output follows
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if example != "" {
			if line != "FAIL" && !strings.HasPrefix(line, "=== ") && !strings.HasPrefix(line, "--- ") &&
				!strings.HasPrefix(line, "exit status ") {
				r.Blocks[example] += "    " + line + "\n"
				continue
			}
			example = ""
		}
		if m := eventRE.FindStringSubmatch(line); m != nil {
			cur = m[2]
			if m[1] == "RUN" {
				buf[cur] = &strings.Builder{}
			}
			continue
		}
		if m := resultRE.FindStringSubmatch(line); m != nil {
			name := m[2]
			text := ""
			if b := buf[name]; b != nil {
				text = b.String()
			}
			switch m[1] {
			case "PASS":
				r.Tally.Pass++
			case "SKIP":
				r.Tally.Skip++
				r.Skips[name] = skipReason(text)
			case "FAIL":
				r.Tally.Fail++
				r.Failed = append(r.Failed, name)
				r.Blocks[name] = text
				if strings.HasPrefix(name, "Example") {
					example = name
				}
			}
			continue
		}
		if cur != "" && buf[cur] != nil && strings.HasPrefix(line, "    ") {
			buf[cur].WriteString(line + "\n")
		}
	}
}

// skipReason is the last message a skipped test printed (t.Skip's), on one
// line, without its file:line prefix.
func skipReason(text string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var msg []string
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		msg = append([]string{l}, msg...)
		if regexp.MustCompile(`^\S+\.go:\d+: `).MatchString(l) {
			break
		}
	}
	s := strings.Join(msg, " ")
	if loc := regexp.MustCompile(`^\S+\.go:\d+: `).FindString(s); loc != "" {
		s = s[len(loc):]
	}
	if s == "" {
		s = "(no reason given)"
	}
	return s
}

type pkgInfo struct{ Path, Dir string }

func goListAll(patterns []string) ([]pkgInfo, error) {
	out, err := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}"}, patterns...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %v", strings.Join(patterns, " "), err)
	}
	var pkgs []pkgInfo
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if p, d, ok := strings.Cut(l, "\t"); ok {
			pkgs = append(pkgs, pkgInfo{p, d})
		}
	}
	return pkgs, nil
}

// binBuilds compiles every test binary once per target.
type binBuilds struct {
	mu   sync.Mutex
	work string
	m    map[string]*binBuild
}

type binBuild struct {
	once sync.Once
	path string // "" when the package has no tests there
	err  error
}

func (b *binBuilds) get(r kernelRow, pkg string) (string, error) {
	key := r.GOOS + "-" + r.GOARCH + "-" + strings.Join(r.GoEnv, "-") + "-" + binName(pkg)
	key = strings.NewReplacer("/", "_", "=", "_").Replace(key)
	b.mu.Lock()
	bb := b.m[key]
	if bb == nil {
		bb = &binBuild{}
		b.m[key] = bb
	}
	b.mu.Unlock()
	bb.once.Do(func() {
		p := filepath.Join(b.work, key)
		if bb.err = goTestC(r, pkg, p); bb.err == nil && fileExists(p) {
			bb.path = p
		}
	})
	return bb.path, bb.err
}

func cmdTest(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("test", flag.ExitOnError)
	list := fs.String("k", "linux", "kernels: names, linux, freebsd or all, comma-separated")
	jobs := fs.Int("j", 2, "VMs at a time")
	runs := fs.Int("runs", 1, "runs of every test binary on every kernel (a binary that hangs is not run again)")
	secs := fs.Int("t", 600, "time limit of one VM run, in seconds; the binary's -test.timeout is 90 s less")
	extra := fs.String("args", "", "more arguments for the test binaries, separated by blanks (e.g. -test.run=X)")
	var envs multiFlag
	fs.Var(&envs, "env", "VAR=VALUE for the test binaries (repeatable)")
	fs.Usage = usage
	fs.Parse(args)
	if *jobs < 1 || *runs < 1 || *secs <= 120 {
		fatalf("test: want -j >= 1, -runs >= 1, -t > 120")
	}
	rows, err := selectKernels(e.kernels, *list)
	if err != nil {
		fatalf("%v", err)
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	pkgs, err := goListAll(patterns)
	if err != nil {
		fatalf("%v", err)
	}
	targs := []string{"-test.v", "-test.count=1", fmt.Sprintf("-test.timeout=%ds", *secs-90)}
	targs = append(targs, strings.Fields(*extra)...)
	infof("%d kernel(s), %d package(s) %s, %d run(s) each, %d VM(s) at a time, %ds limit per run; test flags: %s",
		len(rows), len(pkgs), pkgNames(pkgs), *runs, *jobs, *secs, strings.Join(targs, " "))

	builds := &binBuilds{work: e.work, m: map[string]*binBuild{}}
	reports := make([]*kernelReport, len(rows))
	sem := make(chan struct{}, *jobs)
	var wg sync.WaitGroup
	start := time.Now()
	// The kernels are started in the order of the table, -j at a time.
	for i, r := range rows {
		kr := &kernelReport{Row: r}
		reports[i] = kr
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			testKernel(ctx, e, builds, kr, pkgs, targs, envs, *runs, time.Duration(*secs)*time.Second)
		}()
	}
	wg.Wait()
	return summarize(reports, time.Since(start))
}

func pkgNames(pkgs []pkgInfo) string {
	var s []string
	for _, p := range pkgs {
		s = append(s, p.Path)
	}
	return "(" + strings.Join(s, " ") + ")"
}

func testKernel(ctx context.Context, e *env, builds *binBuilds, kr *kernelReport, pkgs []pkgInfo, targs, envs []string, runs int, limit time.Duration) {
	r := kr.Row
	start := time.Now()
	defer func() { kr.Wall = time.Since(start) }()
	kernel, version, skip, err := e.kernelFile(r, false)
	if err != nil {
		kr.Err = err
		printf("FAIL  %-14s kernel: %v\n", r.Name, err)
		return
	}
	if kernel == "" {
		kr.Skipped = skip
		printf("SKIP  %-14s %s\n", r.Name, skip)
		return
	}
	kr.Version = version
	init, err := buildInit(e.root, e.work, r)
	if err != nil {
		kr.Err = err
		printf("FAIL  %-14s %v\n", r.Name, err)
		return
	}
	hung := map[string]bool{}
	for run := 1; run <= runs; run++ {
		for _, p := range pkgs {
			if ctx.Err() != nil {
				return
			}
			bin, err := builds.get(r, p.Path)
			if err != nil {
				kr.Err = err
				printf("FAIL  %-14s %v\n", r.Name, err)
				return
			}
			if bin == "" || hung[p.Path] {
				continue
			}
			work, err := os.MkdirTemp(e.work, r.Name+".")
			if err != nil {
				kr.Err = err
				return
			}
			b := &boot{Row: r, Kernel: kernel, Init: init, Bin: bin, PkgDir: p.Dir, Args: targs, Env: envs, Limit: limit, Work: work}
			res, err := b.Run(ctx)
			os.RemoveAll(work)
			rep := &runReport{Kernel: r.Name, Pkg: p.Path, Run: run, Status: -1}
			if err != nil {
				rep.Problem = err.Error()
			} else {
				rep.Status, rep.Wall, rep.Release, rep.Output = res.Status, res.Wall, res.Release, res.Output
				parseVerbose(res.Output, rep)
				switch {
				case res.TimedOut && res.Status < 0:
					rep.Problem = fmt.Sprintf("no exit status: still running after %v, killed", limit)
					rep.Output = res.Console
					hung[p.Path] = true
				case res.Status < 0:
					rep.Problem = "no exit status: the machine stopped first (kernel panic?)"
					rep.Output = res.Console
				case res.Status != 0 && rep.Tally.Fail == 0:
					rep.Problem = fmt.Sprintf("exit status %d without a failed test (a panic, or -test.timeout)", res.Status)
					if bytes.Contains(res.Output, []byte("panic: test timed out")) {
						hung[p.Path] = true
					}
				}
				if res.Release != "" {
					kr.Version = res.Release
				}
			}
			kr.Runs = append(kr.Runs, rep)
			kr.Tally.Pass += rep.Tally.Pass
			kr.Tally.Skip += rep.Tally.Skip
			kr.Tally.Fail += rep.Tally.Fail
			printRun(rep, runs)
		}
	}
}

// printf prints a whole block at once (the kernels run in parallel).
func printf(format string, a ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Printf(format, a...)
}

func (r *runReport) ok() bool { return r.Status == 0 && r.Problem == "" && r.Tally.Fail == 0 }

func printRun(r *runReport, runs int) {
	var b strings.Builder
	st := "ok  "
	if !r.ok() {
		st = "FAIL"
	}
	fmt.Fprintf(&b, "%s  %-14s %s run %d/%d: %d passed, %d skipped, %d failed, exit %d, %.1fs (%s)\n",
		st, r.Kernel, r.Pkg, r.Run, runs, r.Tally.Pass, r.Tally.Skip, r.Tally.Fail, r.Status, r.Wall.Seconds(), r.Release)
	// vminit's own lines that say something happened besides the run
	// (a program killed before it printed anything, run again).
	for _, l := range strings.Split(string(r.Output), "\n") {
		if strings.HasPrefix(l, "vminit: ") && strings.Contains(l, "once more") {
			fmt.Fprintf(&b, "      NOTE: %s\n", l)
		}
	}
	for _, name := range r.Failed {
		fmt.Fprintf(&b, "      --- FAIL: %s\n", name)
		lines := strings.Split(strings.TrimRight(r.Blocks[name], "\n"), "\n")
		const most = 40
		if len(lines) > most {
			lines = append(lines[:most], fmt.Sprintf("    ... %d more lines", len(lines)-most))
		}
		for _, l := range lines {
			if l != "" {
				fmt.Fprintf(&b, "      %s\n", l)
			}
		}
	}
	if r.Problem != "" {
		fmt.Fprintf(&b, "      %s; the last lines of its console:\n", r.Problem)
		lines := strings.Split(strings.TrimRight(string(r.Output), "\n"), "\n")
		if len(lines) > 80 {
			lines = lines[len(lines)-80:]
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "      | %s\n", l)
		}
	}
	printf("%s", b.String())
}

func summarize(reports []*kernelReport, wall time.Duration) int {
	var b strings.Builder
	fmt.Fprintf(&b, "\nkernel         target          version                        runs  passed  skipped  failed  wall s\n")
	bad := false
	allSkipped := true
	var failLines []string
	skips := map[string][]string{} // "TEST: reason" -> kernels
	for _, kr := range reports {
		var runs int
		for _, r := range kr.Runs {
			runs++
			if !r.ok() {
				bad = true
			}
			for _, f := range leaves(r.Failed) {
				failLines = append(failLines, fmt.Sprintf("FAIL: %s (%s) on %s (%s), run %d", f, r.Pkg, kr.Row.Name, r.Release, r.Run))
			}
			if r.Problem != "" {
				failLines = append(failLines, fmt.Sprintf("FAIL: %s on %s (%s), run %d: %s", r.Pkg, kr.Row.Name, r.Release, r.Run, r.Problem))
			}
			for t, why := range r.Skips {
				k := t + ": " + why
				if l := skips[k]; len(l) == 0 || l[len(l)-1] != kr.Row.Name {
					skips[k] = append(skips[k], kr.Row.Name)
				}
			}
		}
		version := kr.Version
		switch {
		case kr.Err != nil:
			bad = true
			allSkipped = false
			version = "(not run: error)"
			failLines = append(failLines, fmt.Sprintf("FAIL: %s: %v", kr.Row.Name, firstLineOf(kr.Err.Error())))
		case kr.Skipped != "":
			version = "(skipped: no kernel)"
		default:
			allSkipped = false
		}
		fmt.Fprintf(&b, "%-14s %-15s %-30s %4d  %6d  %7d  %6d  %6.0f\n", kr.Row.Name, kr.Row.GOOS+"/"+kr.Row.GOARCH,
			version, runs, kr.Tally.Pass, kr.Tally.Skip, kr.Tally.Fail, kr.Wall.Seconds())
	}
	for _, l := range failLines {
		fmt.Fprintln(&b, l)
	}
	for _, k := range sortedKeys(skips) {
		t, why, _ := strings.Cut(k, ": ")
		fmt.Fprintf(&b, "SKIP: %s on %s: %s\n", t, strings.Join(skips[k], ", "), why)
	}
	for _, kr := range reports {
		if kr.Skipped != "" {
			fmt.Fprintf(&b, "SKIP: %s: %s\n", kr.Row.Name, kr.Skipped)
		}
	}
	fmt.Fprintf(&b, "%d kernel(s) in %.0fs\n", len(reports), wall.Seconds())
	printf("%s", b.String())
	switch {
	case bad:
		return 1
	case allSkipped:
		return 3
	}
	return 0
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// leaves leaves out the tests that failed only because a subtest did.
func leaves(failed []string) []string {
	var out []string
	for _, f := range failed {
		parent := false
		for _, g := range failed {
			parent = parent || strings.HasPrefix(g, f+"/")
		}
		if !parent {
			out = append(out, f)
		}
	}
	return out
}
