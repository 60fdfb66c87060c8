package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A kernelRow is one row of VM_KERNELS in .ci/targets.
type kernelRow struct {
	Name    string   // e.g. amd64-5.10
	GOOS    string   // linux or freebsd
	GOARCH  string   // of the test binaries
	Source  string   // "debian:SUITE:DEBARCH:METAPACKAGE" or "freebsd"
	GoEnv   []string // extra environment for go test -c (GOARM=7)
	Console string   // Linux console device; "-" for FreeBSD
	Qemu    []string // the qemu command and its machine flags
}

// Debian splits Source "debian:SUITE:DEBARCH:META".
func (k kernelRow) Debian() (suite, debarch, meta string, ok bool) {
	f := strings.Split(k.Source, ":")
	if len(f) != 4 || f[0] != "debian" {
		return "", "", "", false
	}
	return f[1], f[2], f[3], true
}

// findRoot returns the checkout whose .ci/targets (the kernel table) and
// .ci/vmtest/vminit the runner uses: the working directory or a parent.
// MMSG_VM_ROOT names another checkout to take them from (its
// .ci/targets and .ci/vmtest/vminit), e.g. to try a newer runner on an
// older branch; the packages under test are always those of the working
// directory.
func findRoot() (string, error) {
	if d := os.Getenv("MMSG_VM_ROOT"); d != "" {
		if _, err := os.Stat(filepath.Join(d, ".ci", "targets")); err != nil {
			return "", fmt.Errorf("MMSG_VM_ROOT=%s: %w", d, err)
		}
		return filepath.Abs(d)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, ".ci", "targets")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no .ci/targets in the working directory or its parents: run vmtest inside the mmsg checkout")
		}
		dir = parent
	}
}

// readKernels parses the VM_KERNELS=( ... ) array of a .ci/targets file:
// one double-quoted row per line, columns separated by blanks, the qemu
// command being the rest of the line.
func readKernels(targets string) ([]kernelRow, error) {
	f, err := os.Open(targets)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []kernelRow
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !in:
			in = line == "VM_KERNELS=("
			continue
		case line == ")":
			if len(rows) == 0 {
				return nil, fmt.Errorf("%s: VM_KERNELS is empty", targets)
			}
			return rows, nil
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		}
		if len(line) < 2 || line[0] != '"' || line[len(line)-1] != '"' {
			return nil, fmt.Errorf("%s:%d: want a double-quoted row, have %s", targets, n, line)
		}
		f := strings.Fields(line[1 : len(line)-1])
		if len(f) < 7 {
			return nil, fmt.Errorf("%s:%d: want name, target, kernel, goenv, console, qemu...; have %d columns", targets, n, len(f))
		}
		goos, goarch, ok := strings.Cut(f[1], "/")
		if !ok {
			return nil, fmt.Errorf("%s:%d: target %q is not GOOS/GOARCH", targets, n, f[1])
		}
		r := kernelRow{Name: f[0], GOOS: goos, GOARCH: goarch, Source: f[2], Console: f[4], Qemu: f[5:]}
		if f[3] != "-" {
			r.GoEnv = strings.Split(f[3], ",")
		}
		if _, _, _, ok := r.Debian(); !ok && r.Source != "freebsd" {
			return nil, fmt.Errorf("%s:%d: kernel %q: want debian:SUITE:DEBARCH:METAPACKAGE or freebsd", targets, n, r.Source)
		}
		if r.GOOS != "linux" && r.GOOS != "freebsd" {
			return nil, fmt.Errorf("%s:%d: GOOS %q: want linux or freebsd", targets, n, r.GOOS)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%s: no VM_KERNELS=( ... ) array", targets)
}

// selectKernels picks rows by a comma-separated list of names, "linux",
// "freebsd" or "all" (every row).
func selectKernels(rows []kernelRow, list string) ([]kernelRow, error) {
	var out []kernelRow
	seen := map[string]bool{}
	add := func(r kernelRow) {
		if !seen[r.Name] {
			seen[r.Name] = true
			out = append(out, r)
		}
	}
	for _, w := range strings.Split(list, ",") {
		w = strings.TrimSpace(w)
		found := false
		for _, r := range rows {
			if w == "all" || w == r.Name || w == r.GOOS {
				add(r)
				found = true
			}
		}
		if !found {
			names := make([]string, len(rows))
			for i, r := range rows {
				names[i] = r.Name
			}
			return nil, fmt.Errorf("no kernel %q in VM_KERNELS (have: %s; or linux, freebsd, all)", w, strings.Join(names, " "))
		}
	}
	return out, nil
}
