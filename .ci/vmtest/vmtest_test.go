package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestMirrorOneLine(t *testing.T) {
	text := `# deb http://commented.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/k.gpg] http://ubuntu.example/ubuntu jammy main
deb [ signed-by=/k.gpg ] http://mirror.example/debian/ bookworm main contrib
`
	if got, want := mirrorOneLine(text), "http://mirror.example/debian/"; got != want {
		t.Errorf("mirrorOneLine = %q, want %q", got, want)
	}
	if got := mirrorOneLine("deb http://ubuntu.example/ubuntu jammy main\n"); got != "" {
		t.Errorf("an Ubuntu source: mirrorOneLine = %q, want none", got)
	}
}

func TestMirrorDeb822(t *testing.T) {
	text := `Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm

Types: deb
# a comment
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no

Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
`
	if got, want := mirrorDeb822(text), "http://mirror.example/debian"; got != want {
		t.Errorf("mirrorDeb822 = %q, want %q", got, want)
	}
}

// The table the scripts use parses, and every row names what the runner
// needs.
func TestReadKernels(t *testing.T) {
	rows, err := readKernels(filepath.Join("..", "targets"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Name] {
			t.Errorf("kernel %s twice", r.Name)
		}
		seen[r.Name] = true
		if !strings.HasPrefix(r.Qemu[0], "qemu-system-") {
			t.Errorf("%s: qemu command %q", r.Name, r.Qemu[0])
		}
		if _, _, _, ok := r.Debian(); ok == (r.GOOS == "freebsd") {
			t.Errorf("%s: kernel source %q for %s", r.Name, r.Source, r.GOOS)
		}
	}
	if _, err := selectKernels(rows, "linux,nosuch"); err == nil {
		t.Error("selectKernels accepted an unknown name")
	}
	l, err := selectKernels(rows, "amd64-6.1,linux")
	if err != nil || len(l) == 0 || l[0].Name != "amd64-6.1" {
		t.Errorf("selectKernels(amd64-6.1,linux) = %v, %v", l, err)
	}
}

func TestParseVerbose(t *testing.T) {
	out := `=== RUN   TestA
--- PASS: TestA (0.00s)
=== RUN   TestB
=== RUN   TestB/x
    b_test.go:10: no GRO here
    on this kernel
=== RUN   TestB/y
    b_test.go:12: got 1, want 2
--- FAIL: TestB (0.01s)
    --- SKIP: TestB/x (0.00s)
    --- FAIL: TestB/y (0.00s)
FAIL
`
	var r runReport
	parseVerbose([]byte(out), &r)
	if r.Tally != (tally{Pass: 1, Skip: 1, Fail: 2}) {
		t.Errorf("tally %+v", r.Tally)
	}
	if got := r.Skips["TestB/x"]; got != "no GRO here on this kernel" {
		t.Errorf("skip reason %q", got)
	}
	if got := leaves(r.Failed); len(got) != 1 || got[0] != "TestB/y" {
		t.Errorf("leaves(%v) = %v", r.Failed, got)
	}
	if !strings.Contains(r.Blocks["TestB/y"], "got 1, want 2") {
		t.Errorf("block of TestB/y: %q", r.Blocks["TestB/y"])
	}
}

// A failed example prints what it got and wanted after its result line.
func TestParseVerboseExample(t *testing.T) {
	out := `=== RUN   ExampleA
--- FAIL: ExampleA (0.00s)
got:
one
want:
one
two
=== RUN   ExampleB
--- PASS: ExampleB (0.00s)
FAIL
`
	var r runReport
	parseVerbose([]byte(out), &r)
	if r.Tally != (tally{Pass: 1, Fail: 1}) {
		t.Errorf("tally %+v", r.Tally)
	}
	if want := "    got:\n    one\n    want:\n    one\n    two\n"; r.Blocks["ExampleA"] != want {
		t.Errorf("block of ExampleA: %q, want %q", r.Blocks["ExampleA"], want)
	}
}

// The archive is what the kernel's unpacker reads: headers, names and data
// at 4-byte boundaries, a trailer.
func TestCpio(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "testdata", ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, "testdata", "a"), []byte("hello"), 0o640)
	os.WriteFile(filepath.Join(dir, "testdata", ".git", "x"), []byte("no"), 0o644)
	var buf bytes.Buffer
	c := newCpio(&buf)
	c.Dir("pkg")
	c.CharDev("dev/console", 0o600, 5, 1)
	c.Tree("pkg", dir)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	var names []string
	for len(b) > 0 {
		if len(b) < 110 || string(b[:6]) != "070701" {
			t.Fatalf("bad header at %d: %q", buf.Len()-len(b), b[:min(len(b), 16)])
		}
		field := func(i int) int {
			n, err := strconv.ParseUint(string(b[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
		mode, size, rmaj, rmin, namesize := field(1), field(6), field(9), field(10), field(11)
		name := string(b[110 : 110+namesize-1])
		names = append(names, name)
		off := (110 + namesize + 3) &^ 3
		data := b[off : off+size]
		b = b[(off+size+3)&^3:]
		switch name {
		case "dev/console":
			if mode != cpioChr|0o600 || rmaj != 5 || rmin != 1 {
				t.Errorf("dev/console: mode %o, device %d,%d", mode, rmaj, rmin)
			}
		case "pkg/testdata/a":
			if mode != cpioFile|0o640 || string(data) != "hello" {
				t.Errorf("pkg/testdata/a: mode %o, data %q", mode, data)
			}
		}
		if name == "TRAILER!!!" {
			if len(b) != 0 {
				t.Errorf("%d bytes after the trailer", len(b))
			}
			break
		}
	}
	want := "pkg dev/console pkg/testdata pkg/testdata/a TRAILER!!!"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries %q, want %q", got, want)
	}
}
