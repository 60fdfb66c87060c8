package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"slices"
	"strings"
	"testing"
)

// check type-checks one file of package p (no imports) and describes it.
func check(t *testing.T, src string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", "package p\n"+src, 0)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := (&types.Config{}).Check("example.com/p", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return describe(pkg)
}

func TestDescribe(t *testing.T) {
	got := check(t, `
const C = 1
const D uint16 = 2
var V, unexported error
type S struct { A int; b int; E }
type E struct{ X []byte }
func (S) M(n int, p []byte) (int, error) { return 0, nil }
func (*S) PM() {}
func (E) Promoted() {}
type I interface { Get() string }
type A = S
type G[T any] struct{ F T }
func F(x, y int, rest ...string) (ok bool) { return }
func hidden() {}
`)
	want := []string{
		"const C untyped int",
		"const D uint16",
		"field E.X []byte",
		"field G.F T",
		"field S.A int",
		"field S.E E (embedded)",
		"func F(int, int, ...string) bool",
		"method (*S) PM()",
		"method (E) Promoted()",
		"method (I) Get() string",
		"method (S) M(int, []byte) (int, error)",
		"method (S) Promoted()",
		"type A = S",
		"type E struct",
		"type G[T any] struct",
		"type I interface",
		"type S struct",
		"var V error",
	}
	// A's method set is S's; its lines carry the alias name.
	for _, l := range got {
		if strings.Contains(l, "(A)") || strings.Contains(l, "(*A)") || strings.HasPrefix(l, "field A.") {
			want = append(want, l)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("describe:\n got %q\nwant %q", got, want)
	}
}

// The OS-layout types: field names without types, Msghdr opaque, alias or
// not the same.
func TestLayoutExemption(t *testing.T) {
	unixLike := check(t, `
type msghdr struct{ Name *byte; Iovlen uint64; Pad_cgo_0 [4]byte }
func (*msghdr) SetIovlen(int) {}
type timespec struct{ Sec, Nsec int64 }
func (*timespec) Nano() int64 { return 0 }
type Msghdr = msghdr
type Timespec = timespec
type Mmsghdr struct{ Hdr Msghdr; Len uint32; _ [4]byte }
func Recvmmsg([]Mmsghdr, *Timespec) (int, error) { return 0, nil }
`)
	windowsLike := check(t, `
type Msghdr struct{ Name *byte; Iovlen int32 }
type Timespec struct{ Sec, Nsec int32 }
func (*Timespec) Nano() int64 { return 0 }
type Mmsghdr struct{ Hdr Msghdr; Len int64 }
func Recvmmsg([]Mmsghdr, *Timespec) (int, error) { return 0, nil }
`)
	if minus, plus := diff(unixLike, windowsLike); len(minus)+len(plus) > 0 {
		t.Errorf("layout types should compare equal:\n-%q\n+%q", minus, plus)
	}
	for _, l := range []string{"field Mmsghdr.Hdr", "field Mmsghdr.Len", "field Timespec.Sec", "method (*Timespec) Nano() int64", "type Msghdr struct"} {
		if !slices.Contains(unixLike, l) {
			t.Errorf("missing %q in %q", l, unixLike)
		}
	}

	// But a method, a field name or a signature of them is compared.
	renamed := check(t, `
type Msghdr struct{}
type Timespec struct{ Seconds, Nsec int32 }
type Mmsghdr struct{ Hdr Msghdr; Length int64 }
func Recvmmsg([]Mmsghdr, Timespec) (int, error) { return 0, nil }
`)
	minus, plus := diff(windowsLike, renamed)
	wantMinus := []string{
		"field Mmsghdr.Len",
		"field Timespec.Sec",
		"func Recvmmsg([]Mmsghdr, *Timespec) (int, error)",
		"method (*Timespec) Nano() int64",
	}
	wantPlus := []string{
		"field Mmsghdr.Length",
		"field Timespec.Seconds",
		"func Recvmmsg([]Mmsghdr, Timespec) (int, error)",
	}
	if !slices.Equal(minus, wantMinus) || !slices.Equal(plus, wantPlus) {
		t.Errorf("diff:\n-%q\n+%q\nwant\n-%q\n+%q", minus, plus, wantMinus, wantPlus)
	}
	if got, want := names(minus, plus), []string{"Mmsghdr", "Recvmmsg", "Timespec"}; !slices.Equal(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}
}

func TestMergeDiff(t *testing.T) {
	got := mergeDiff([]string{"a", "c"}, []string{"b", "c2"})
	want := []string{"-a", "+b", "-c", "+c2"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeDiff = %q, want %q", got, want)
	}
}
