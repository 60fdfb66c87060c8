// Aliases as types.Alias, so that "type Msghdr = unix.Msghdr" is seen as one.
//go:debug gotypesalias=1

// Command apicheck prints a package's exported API for several GOOS/GOARCH
// targets in a normalized form and fails if they differ (issue 9: one
// exported API on every OS).
//
//	go run ./.ci/apicheck [-pkg PATTERN] [-print] GOOS/GOARCH...
//
// The first target is the reference; every other target's API is compared
// with it, and each difference is printed as a diff ("-" only in the
// reference, "+" only in the target), followed by a one-line summary per
// target. The exit status is 1 if any API differs or a target does not
// type-check, 2 on a usage or setup error. With -print it prints each
// target's API instead of comparing. It is not part of the library (the
// directory begins with a dot, so ./... skips it); .ci/test-matrix.sh runs
// it for the GOOS list of .ci/targets.
//
// How: `go list` (with GOOS, GOARCH and CGO_ENABLED=0 in its environment)
// finds the package's files for the target and builds the export data of its
// dependencies (the standard library, x/sys) from the module cache, offline;
// go/types then type-checks the package's own files against that export
// data. Type errors are reported (the package does not build there) but the
// API is still compared as far as it type-checks.
//
// The normalized API is one line per item, sorted:
//
//	const NAME TYPE                    (untyped consts: "untyped int", ...)
//	var NAME TYPE
//	func NAME(PARAMS) RESULTS         (types only: parameter names are not API)
//	type NAME KIND                     (struct, interface, or the underlying type;
//	                                    "= T" for an alias)
//	field TYPE.NAME FIELDTYPE          (exported fields, embedded ones marked)
//	method (RECV) NAME(PARAMS) RESULTS (the method set of *TYPE, promoted ones too)
//
// Values are not compared (SizeofMmsghdr and MSG_WAITFORONE differ per OS by
// design), only names and types, types written relative to the package.
//
// Exemption, by design: the OS-layout types are the C structures of each OS
// (or x/sys's versions of them), so their field types differ:
//   - Mmsghdr and Timespec: field names are compared, field types are not.
//   - Msghdr is the OS's struct msghdr as x/sys defines it (an alias of
//     unix.Msghdr on Unix): neither its fields nor its methods are compared,
//     since they differ between the OSes' headers (NetBSD pads with exported
//     Pad_cgo_N fields; Solaris and illumos have msg_accrights instead of
//     msg_control and no msg_flags). Only that a type Msghdr exists is.
//
// Alias or defined type is not compared for these three either (an alias of
// x/sys's type on Unix, mmsg's own struct on Windows). Everything else,
// including the methods of Mmsghdr and Timespec and every signature that
// mentions the layout types, must be identical.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// layoutTypes are exempt from field-type comparison (see the package doc);
// opaqueLayout ones from field and method comparison too.
var (
	layoutTypes  = map[string]bool{"Mmsghdr": true, "Msghdr": true, "Timespec": true}
	opaqueLayout = map[string]bool{"Msghdr": true}
)

func main() {
	pkg := flag.String("pkg", ".", "the package (a go list pattern naming one package)")
	printOnly := flag.Bool("print", false, "print each target's API instead of comparing")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: apicheck [-pkg PATTERN] [-print] GOOS/GOARCH...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	targets := flag.Args()
	if len(targets) == 0 || (!*printOnly && len(targets) < 2) {
		flag.Usage()
		os.Exit(2)
	}

	apis := make([]*api, len(targets))
	for i, t := range targets {
		goos, goarch, ok := strings.Cut(t, "/")
		if !ok || goos == "" || goarch == "" {
			fmt.Fprintf(os.Stderr, "apicheck: target %q is not GOOS/GOARCH\n", t)
			os.Exit(2)
		}
		a, err := load(*pkg, goos, goarch)
		if err != nil {
			fmt.Fprintf(os.Stderr, "apicheck: %s: %v\n", t, err)
			os.Exit(2)
		}
		apis[i] = a
	}

	failed := false
	for _, a := range apis {
		if len(a.errs) > 0 {
			failed = true
			fmt.Printf("%s: does not type-check (%d errors):\n", a.target, len(a.errs))
			for _, e := range a.errs {
				fmt.Printf("\t%s\n", e)
			}
		}
	}
	if *printOnly {
		for _, a := range apis {
			fmt.Printf("# %s %s: %d lines\n", a.path, a.target, len(a.lines))
			for _, l := range a.lines {
				fmt.Println(l)
			}
		}
		if failed {
			os.Exit(1)
		}
		return
	}

	ref := apis[0]
	var summary []string
	for _, a := range apis[1:] {
		minus, plus := diff(ref.lines, a.lines)
		if len(minus)+len(plus) == 0 {
			summary = append(summary, fmt.Sprintf("ok    %-16s same API as %s (%d lines)", a.target, ref.target, len(a.lines)))
			continue
		}
		failed = true
		fmt.Printf("--- %s\n+++ %s\n", ref.target, a.target)
		for _, l := range mergeDiff(minus, plus) {
			fmt.Println(l)
		}
		summary = append(summary, fmt.Sprintf("FAIL  %-16s %d names differ from %s (%d only in %s, %d only in %s)",
			a.target, len(names(minus, plus)), ref.target, len(minus), ref.target, len(plus), a.target))
	}
	fmt.Printf("exported API of %s, reference %s (%d lines):\n", ref.path, ref.target, len(ref.lines))
	for _, s := range summary {
		fmt.Println(s)
	}
	if failed {
		os.Exit(1)
	}
}

// api is one target's normalized API.
type api struct {
	target string
	path   string
	lines  []string
	errs   []string
}

// listPkg is the part of `go list -json` output apicheck uses.
type listPkg struct {
	ImportPath string
	Name       string
	Dir        string
	Export     string
	GoFiles    []string
	Imports    []string
	ImportMap  map[string]string
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
}

// goList runs go list -json with the target's environment.
func goList(goos, goarch string, args ...string) ([]*listPkg, error) {
	cmd := exec.Command("go", append([]string{"list", "-e", "-json=ImportPath,Name,Dir,Export,GoFiles,Imports,ImportMap,Error,DepsErrors"}, args...)...)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, stderr.String())
	}
	var pkgs []*listPkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listPkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, &p)
	}
	return pkgs, nil
}

// load type-checks the package for goos/goarch and returns its API.
func load(pattern, goos, goarch string) (*api, error) {
	pkgs, err := goList(goos, goarch, pattern)
	if err != nil {
		return nil, err
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("pattern %q matches %d packages, want 1", pattern, len(pkgs))
	}
	p := pkgs[0]
	a := &api{target: goos + "/" + goarch, path: p.ImportPath}
	if p.Error != nil {
		a.errs = append(a.errs, p.Error.Err)
	}
	if len(p.GoFiles) == 0 {
		return a, nil
	}

	// Export data of every dependency, built for the target.
	exports := map[string]string{}
	if len(p.Imports) > 0 {
		deps, err := goList(goos, goarch, append([]string{"-export", "-deps"}, p.Imports...)...)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			if d.Error != nil {
				a.errs = append(a.errs, d.ImportPath+": "+d.Error.Err)
			}
			if d.Export != "" {
				exports[d.ImportPath] = d.Export
			}
		}
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			a.errs = append(a.errs, err.Error())
			continue
		}
		files = append(files, f)
	}
	gc := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if m, ok := p.ImportMap[path]; ok {
			path = m
		}
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	conf := types.Config{
		Importer: gc,
		Sizes:    types.SizesFor("gc", goarch),
		Error: func(err error) {
			a.errs = append(a.errs, err.Error())
		},
	}
	tpkg, _ := conf.Check(p.ImportPath, fset, files, nil)
	if tpkg == nil {
		return nil, errors.New("type-checking produced no package")
	}
	a.lines = describe(tpkg)
	return a, nil
}

// describe returns the normalized API lines of pkg, sorted.
func describe(pkg *types.Package) []string {
	qual := types.RelativeTo(pkg)
	ts := func(t types.Type) string { return types.TypeString(t, qual) }
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch obj := obj.(type) {
		case *types.Const:
			add("const %s %s", name, ts(obj.Type()))
		case *types.Var:
			add("var %s %s", name, ts(obj.Type()))
		case *types.Func:
			add("func %s%s", name, sigString(obj.Type().(*types.Signature), ts))
		case *types.TypeName:
			describeType(obj, ts, add)
		}
	}
	sort.Strings(out)
	return out
}

func describeType(obj *types.TypeName, ts func(types.Type) string, add func(string, ...any)) {
	name := obj.Name()
	layout, opaque := layoutTypes[name], opaqueLayout[name]
	t := obj.Type()
	under := t.Underlying()

	kind := ts(under)
	switch under.(type) {
	case *types.Struct:
		kind = "struct"
	case *types.Interface:
		kind = "interface"
	}
	switch {
	case layout:
		// Alias or not, and the fields' types, differ per OS by design.
		add("type %s %s", name, kind)
	case obj.IsAlias():
		rhs := t
		if a, ok := t.(*types.Alias); ok {
			rhs = a.Rhs()
		}
		add("type %s = %s", name, ts(rhs))
	default:
		tparams := ""
		if n, ok := t.(*types.Named); ok && n.TypeParams().Len() > 0 {
			var ps []string
			for i := range n.TypeParams().Len() {
				p := n.TypeParams().At(i)
				ps = append(ps, p.Obj().Name()+" "+ts(p.Constraint()))
			}
			tparams = "[" + strings.Join(ps, ", ") + "]"
		}
		add("type %s%s %s", name, tparams, kind)
	}
	if opaque {
		return
	}

	if st, ok := under.(*types.Struct); ok {
		for i := range st.NumFields() {
			f := st.Field(i)
			if !f.Exported() {
				continue
			}
			emb := ""
			if f.Embedded() {
				emb = " (embedded)"
			}
			if layout {
				add("field %s.%s%s", name, f.Name(), emb)
			} else {
				add("field %s.%s %s%s", name, f.Name(), ts(f.Type()), emb)
			}
		}
	}
	if it, ok := under.(*types.Interface); ok {
		for i := range it.NumMethods() {
			m := it.Method(i)
			if m.Exported() {
				add("method (%s) %s%s", name, m.Name(), sigString(m.Type().(*types.Signature), ts))
			}
		}
		return
	}
	// The method set of *T: every method callable on an addressable T,
	// promoted ones included, each with its declared receiver.
	ms := types.NewMethodSet(types.NewPointer(t))
	for i := range ms.Len() {
		m := ms.At(i).Obj().(*types.Func)
		if !m.Exported() {
			continue
		}
		sig := m.Type().(*types.Signature)
		recv := name
		if _, ptr := sig.Recv().Type().(*types.Pointer); ptr {
			recv = "*" + name
		}
		add("method (%s) %s%s", recv, m.Name(), sigString(sig, ts))
	}
}

// sigString writes sig without "func", its receiver and its parameter
// names, which are not part of the API: "(int, []byte) (int, error)".
func sigString(sig *types.Signature, ts func(types.Type) string) string {
	unnamed := func(t *types.Tuple) *types.Tuple {
		vars := make([]*types.Var, t.Len())
		for i := range vars {
			vars[i] = types.NewParam(token.NoPos, nil, "", t.At(i).Type())
		}
		return types.NewTuple(vars...)
	}
	s := types.NewSignatureType(nil, nil, nil, unnamed(sig.Params()), unnamed(sig.Results()), sig.Variadic())
	tparams := ""
	if tp := sig.TypeParams(); tp.Len() > 0 {
		var ps []string
		for i := range tp.Len() {
			ps = append(ps, tp.At(i).Obj().Name()+" "+ts(tp.At(i).Constraint()))
		}
		tparams = "[" + strings.Join(ps, ", ") + "]"
	}
	return tparams + strings.TrimPrefix(ts(s), "func")
}

// diff returns the lines only in a and only in b (both sorted).
func diff(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

// mergeDiff interleaves "-" and "+" lines in sorted order of their text.
func mergeDiff(minus, plus []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(minus) || j < len(plus) {
		if j == len(plus) || (i < len(minus) && minus[i] <= plus[j]) {
			out = append(out, "-"+minus[i])
			i++
		} else {
			out = append(out, "+"+plus[j])
			j++
		}
	}
	return out
}

// names returns the distinct top-level names that the diff lines are about
// (the NAME of const/var/func/type, the TYPE of field and method lines).
func names(lists ...[]string) []string {
	seen := map[string]bool{}
	for _, l := range lists {
		for _, line := range l {
			seen[topName(line)] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func topName(line string) string {
	kind, rest, _ := strings.Cut(line, " ")
	switch kind {
	case "field":
		n, _, _ := strings.Cut(rest, ".")
		return n
	case "method":
		rest = strings.TrimPrefix(rest, "(")
		rest = strings.TrimPrefix(rest, "*")
		n, _, _ := strings.Cut(rest, ")")
		return n
	}
	n := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '(' || r == '[' })
	if len(n) == 0 {
		return rest
	}
	return n[0]
}
