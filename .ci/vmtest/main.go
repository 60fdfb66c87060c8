// Command vmtest runs Go test binaries on real kernels: it boots a kernel
// under qemu-system (TCG: no KVM needed) with the test binary as the only
// userland program and returns its output and exit status.
//
//	vmtest run -k KERNEL [-p PKGDIR] [-t SECONDS] [-log FILE] TESTBIN [ARGS...]
//	vmtest run -k KERNEL -build PKG [-t SECONDS] [-log FILE] [-- ARGS...]
//	vmtest test [-k LIST] [-j N] [-runs N] [-t SECONDS] [-args "ARGS"] [PACKAGES...]
//	vmtest fetch [-k LIST] [-refresh]
//	vmtest list
//	vmtest path KERNEL
//
// The kernels are the rows of VM_KERNELS in .ci/targets (found in the
// working directory or a parent): Linux kernels from Debian's archive
// (the Debian mirror of the host's apt configuration, or DEBIAN_MIRROR),
// and a FreeBSD amd64 kernel that the developer builds. Everything is
// cached in ${XDG_CACHE_HOME:-$HOME/.cache}/mmsg/vm: Linux kernels under
// debian/, the FreeBSD kernel at freebsd/kernel (FREEBSD_KERNEL overrides
// that path). docs/kernels.md describes the whole.
//
// run boots one kernel once. The program runs as /bin/NAME (an absolute
// path: tests that re-execute os.Args[0] work) in /pkg, a copy of PKGDIR
// (testdata/ is there), with the loopback interface up and a tmpfs on
// /tmp. Its output is printed as it comes; the exit status of vmtest is the
// program's, or 3 when no status came back (a kernel panic, the time
// limit), or 2 for a setup error. -build compiles the test binary of PKG
// for the kernel's GOOS/GOARCH (static, CGO_ENABLED=0) and runs it in
// PKG's directory.
//
// test compiles the test binary of every package with tests for every
// listed kernel (default: all Linux kernels), runs each -runs times with
// -test.v, up to -j VMs at a time, and prints one line per run, a table per
// kernel (passed, skipped, failed, counting subtests) and a line for every
// failed test and every skip reason. Its exit status is 1 if a test
// failed, a run returned no status, or a kernel could not be had; 3 if
// every listed kernel is a FreeBSD one and there is no FreeBSD kernel.
//
// fetch downloads the kernels into the cache; list prints the table and
// what the cache holds; path prints a kernel's file (exit status 3: none).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  vmtest run -k KERNEL [-p PKGDIR] [-t SECONDS] [-log FILE] TESTBIN [ARGS...]
  vmtest run -k KERNEL -build PKG [-t SECONDS] [-log FILE] [-- ARGS...]
  vmtest test [-k LIST] [-j N] [-runs N] [-t SECONDS] [-args "ARGS"] [PACKAGES...]
  vmtest fetch [-k LIST] [-refresh]
  vmtest list
  vmtest path KERNEL
KERNEL is a name of VM_KERNELS in .ci/targets; LIST is names, linux,
freebsd or all, separated by commas. See docs/kernels.md.
`)
	os.Exit(2)
}

// env is what every subcommand needs.
type env struct {
	root    string // the checkout
	cache   string
	kernels []kernelRow
	work    string // scratch directory, removed at exit
}

func setup() (*env, error) {
	root, err := findRoot()
	if err != nil {
		return nil, err
	}
	rows, err := readKernels(filepath.Join(root, ".ci", "targets"))
	if err != nil {
		return nil, err
	}
	cache, err := cacheDir()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "vmtest.")
	if err != nil {
		return nil, err
	}
	return &env{root: root, cache: cache, kernels: rows, work: work}, nil
}

func fatalf(format string, a ...any) {
	infof(format, a...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e, err := setup()
	if err != nil {
		fatalf("%v", err)
	}
	code := 0
	switch os.Args[1] {
	case "run":
		code = cmdRun(ctx, e, os.Args[2:])
	case "test":
		code = cmdTest(ctx, e, os.Args[2:])
	case "fetch":
		code = cmdFetch(e, os.Args[2:])
	case "list":
		code = cmdList(e)
	case "path":
		if len(os.Args) != 3 {
			usage()
		}
		code = cmdPath(e, os.Args[2])
	default:
		usage()
	}
	stop()
	os.RemoveAll(e.work)
	os.Exit(code)
}

// kernelFile returns the kernel of row r: from the cache, downloading a
// Debian one if needed. For a FreeBSD row without a kernel it returns ""
// and the reason, with a nil error.
func (e *env) kernelFile(r kernelRow, refresh bool) (path, version, skip string, err error) {
	if r.Source == "freebsd" {
		k, why := freebsdKernel(e.cache)
		if k == "" && os.Getenv("FREEBSD_KERNEL") != "" {
			return "", "", "", errors.New(why) // asked for, not there
		}
		return k, "", why, nil
	}
	k, v, err := debianKernel(e.cache, r, refresh)
	return k, v, "", err
}

func (e *env) row(name string) kernelRow {
	rows, err := selectKernels(e.kernels, name)
	if err != nil || len(rows) != 1 {
		fatalf("%v", fmt.Errorf("want one kernel name, have %q: %v", name, err))
	}
	return rows[0]
}

func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	name := fs.String("k", "", "kernel (a name of VM_KERNELS in .ci/targets)")
	pkgDir := fs.String("p", "", "directory copied to /pkg, the program's working directory")
	build := fs.String("build", "", "compile the test binary of this package for the kernel and run it in the package's directory")
	secs := fs.Int("t", 600, "time limit of the VM run, in seconds")
	logf := fs.String("log", "", "write the whole console to this file")
	var envs multiFlag
	fs.Var(&envs, "env", "VAR=VALUE for the program (repeatable)")
	fs.Usage = usage
	fs.Parse(args)
	if *name == "" {
		fatalf("run: -k KERNEL is required")
	}
	r := e.row(*name)
	rest := fs.Args()
	var bin string
	if *build != "" {
		pkg, dir, err := goList(*build)
		if err != nil {
			fatalf("%v", err)
		}
		bin = filepath.Join(e.work, binName(pkg))
		if err := goTestC(r, pkg, bin); err != nil {
			fatalf("%v", err)
		}
		if !fileExists(bin) {
			fatalf("%s has no tests for %s/%s", pkg, r.GOOS, r.GOARCH)
		}
		if *pkgDir == "" {
			*pkgDir = dir
		}
	} else {
		if len(rest) == 0 {
			fatalf("run: no TESTBIN (or -build PKG)")
		}
		bin, rest = rest[0], rest[1:]
	}
	kernel, version, skip, err := e.kernelFile(r, false)
	if err != nil {
		fatalf("%v", err)
	}
	if kernel == "" {
		infof("SKIP: %s: %s", r.Name, skip)
		return 3
	}
	init, err := buildInit(e.root, e.work, r)
	if err != nil {
		fatalf("%v", err)
	}
	b := &boot{Row: r, Kernel: kernel, Init: init, Bin: bin, PkgDir: *pkgDir, Args: rest,
		Env: envs, Limit: time.Duration(*secs) * time.Second, Work: e.work, Out: os.Stdout}
	infof("%s: %s %s; %s", r.Name, filepath.Base(kernel), version, strings.Join(b.qemuArgs("ROOT"), " "))
	res, err := b.Run(ctx)
	if res != nil && *logf != "" {
		os.WriteFile(*logf, res.Console, 0o644)
	}
	if err != nil {
		fatalf("%v", err)
	}
	if res.Status < 0 {
		os.Stdout.Write(res.Console)
		why := "the machine stopped"
		if res.TimedOut {
			why = fmt.Sprintf("still running after %ds, killed", *secs)
		}
		infof("%s: no exit status came back (%s), %.1fs", r.Name, why, res.Wall.Seconds())
		return 3
	}
	infof("%s (%s): exit status %d, %.1fs", r.Name, res.Release, res.Status, res.Wall.Seconds())
	return res.Status
}

func cmdFetch(e *env, args []string) int {
	fs := flag.NewFlagSet("fetch", flag.ExitOnError)
	list := fs.String("k", "linux", "kernels")
	refresh := fs.Bool("refresh", false, "ask the archive for a newer kernel even if the cached choice is recent")
	fs.Usage = usage
	fs.Parse(args)
	rows, err := selectKernels(e.kernels, *list)
	if err != nil {
		fatalf("%v", err)
	}
	code := 0
	for _, r := range rows {
		k, v, skip, err := e.kernelFile(r, *refresh)
		switch {
		case err != nil:
			fmt.Printf("FAIL  %-14s %v\n", r.Name, err)
			code = 1
		case k == "":
			fmt.Printf("SKIP  %-14s %s\n", r.Name, skip)
		default:
			fmt.Printf("ok    %-14s %s %s\n", r.Name, k, v)
		}
	}
	return code
}

func cmdList(e *env) int {
	fmt.Printf("cache: %s\n", e.cache)
	for _, r := range e.kernels {
		have := "not cached"
		if r.Source == "freebsd" {
			if k, why := freebsdKernel(e.cache); k != "" {
				have = k
			} else {
				have = why
			}
		} else {
			suite, debarch, meta, _ := r.Debian()
			dir := filepath.Join(e.cache, "debian", suite+"-"+debarch)
			if b, err := os.ReadFile(filepath.Join(dir, meta+".chosen")); err == nil {
				have = strings.TrimSpace(string(b))
			}
		}
		fmt.Printf("%-14s %-15s %-45s %s\n", r.Name, r.GOOS+"/"+r.GOARCH, r.Source, have)
	}
	return 0
}

func cmdPath(e *env, name string) int {
	r := e.row(name)
	k, _, skip, err := e.kernelFile(r, false)
	if err != nil {
		infof("%v", err)
		return 1
	}
	if k == "" {
		infof("%s", skip)
		return 3
	}
	fmt.Println(k)
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// goList returns the import path and directory of one package.
func goList(pattern string) (pkg, dir string, err error) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}", pattern).Output()
	if err != nil {
		return "", "", fmt.Errorf("go list %s: %v", pattern, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 {
		return "", "", fmt.Errorf("go list %s: want one package, have %d", pattern, len(lines))
	}
	pkg, dir, _ = strings.Cut(lines[0], "\t")
	return pkg, dir, nil
}

// binName is a file name for the test binary of pkg.
func binName(pkg string) string {
	return strings.ReplaceAll(pkg, "/", "_") + ".test"
}

// goTestC compiles pkg's test binary for row r: static (CGO_ENABLED=0),
// with the row's Go environment (GOARM=7, GO386=sse2). No test files: no
// binary and no error.
func goTestC(r kernelRow, pkg, bin string) error {
	cmd := exec.Command("go", "test", "-c", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), append([]string{"GOOS=" + r.GOOS, "GOARCH=" + r.GOARCH, "CGO_ENABLED=0"}, r.GoEnv...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("GOOS=%s GOARCH=%s %s go test -c %s: %v\n%s", r.GOOS, r.GOARCH, strings.Join(r.GoEnv, " "), pkg, err, out)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
