package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A boot is one VM run of one program.
type boot struct {
	Row    kernelRow
	Kernel string   // kernel file
	Init   string   // vminit built for the kernel
	Bin    string   // the program (a static test binary)
	PkgDir string   // copied to /pkg, the program's working directory ("": none)
	Args   []string // the program's arguments
	Env    []string // more environment for the program
	Limit  time.Duration
	Work   string    // a scratch directory of this boot
	Out    io.Writer // receives the program's output as it comes (nil: none)
}

// A result is what came back from a boot.
type result struct {
	Status   int    // the program's exit status; -1: no status line came back
	Release  string // the kernel's release, as vminit reported it
	Wall     time.Duration
	TimedOut bool
	Console  []byte // the whole console, without carriage returns
	Output   []byte // the console from vminit's first line on
}

const (
	markerPrefix = "VMTEST-EXIT-STATUS: "
	// exitedPrefix begins vminit's line with the program's status,
	// printed before the marker.
	exitedPrefix = "vminit: program exited with status "
	// afterMarker: how long a machine may take to power off once the
	// program's status is in; then qemu is killed.
	afterMarker = 15 * time.Second
)

var etcFiles = map[string]string{
	"etc/hosts":         "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n",
	"etc/nsswitch.conf": "hosts: files\n",
	"etc/protocols":     "ip\t0\tIP\nicmp\t1\tICMP\ntcp\t6\tTCP\nudp\t17\tUDP\nipv6\t41\tIPV6\nipv6-icmp\t58\tIPV6-ICMP\n",
}

func (b *boot) job() []byte {
	var j bytes.Buffer
	dir := "/tmp"
	if b.PkgDir != "" {
		dir = "/pkg"
	}
	fmt.Fprintf(&j, "dir=%s\x00", dir)
	for _, e := range b.Env {
		fmt.Fprintf(&j, "env=%s\x00", e)
	}
	fmt.Fprintf(&j, "arg=/bin/%s\x00", filepath.Base(b.Bin))
	for _, a := range b.Args {
		fmt.Fprintf(&j, "arg=%s\x00", a)
	}
	return j.Bytes()
}

// initramfs writes the Linux root: a newc cpio archive.
func (b *boot) initramfs(dst string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	c := newCpio(f)
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "vmtest"} {
		c.Dir(d)
	}
	// The kernel opens /dev/console for init before devtmpfs is mounted.
	c.CharDev("dev/console", 0o600, 5, 1)
	c.File("init", 0o755, b.Init)
	c.File("bin/"+filepath.Base(b.Bin), 0o755, b.Bin)
	for _, name := range sortedKeys(etcFiles) {
		c.Bytes(name, 0o644, []byte(etcFiles[name]))
	}
	c.Bytes("vmtest/job", 0o644, b.job())
	if b.PkgDir != "" {
		c.Dir("pkg")
		c.Tree("pkg", b.PkgDir)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return f.Close()
}

// isoRoot writes the FreeBSD root: an ISO 9660 image with Rock Ridge
// (modes kept), made by xorriso, mounted read-only as the root.
func (b *boot) isoRoot(dst string) error {
	root := filepath.Join(b.Work, "root")
	for _, d := range []string{"bin", "dev", "etc", "sbin", "tmp", "vmtest", "pkg"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	files := map[string][]byte{"vmtest/job": b.job()}
	for k, v := range etcFiles {
		files[k] = []byte(v)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			return err
		}
	}
	if err := copyFile(filepath.Join(root, "sbin", "init"), b.Init, 0o755); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(root, "bin", filepath.Base(b.Bin)), b.Bin, 0o755); err != nil {
		return err
	}
	if b.PkgDir != "" {
		if err := copyTree(filepath.Join(root, "pkg"), b.PkgDir); err != nil {
			return err
		}
	}
	out, err := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", dst, root).CombinedOutput()
	if err != nil {
		return fmt.Errorf("xorriso (Debian/Ubuntu package xorriso): %v\n%s", err, out)
	}
	return nil
}

// qemuArgs is the whole qemu command line for the boot.
func (b *boot) qemuArgs(root string) []string {
	args := append([]string(nil), b.Row.Qemu...)
	has := func(flag string) bool {
		for _, a := range args {
			if a == flag {
				return true
			}
		}
		return false
	}
	if !has("-smp") {
		args = append(args, "-smp", "2")
	}
	if !has("-m") {
		args = append(args, "-m", "1G")
	}
	if b.Row.GOOS == "freebsd" {
		return append(args,
			"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio",
			"-kernel", b.Kernel,
			"-append", "vfs.root.mountfrom=cd9660:/dev/vtbd0 boot_serial=1 kern.random.initial_seeding.bypass_before_seeding=1",
			"-drive", "file="+root+",format=raw,if=virtio,readonly=on",
			"-device", "virtio-rng-pci")
	}
	// -nic none: no network card (the tests use loopback only), so no
	// card's option ROM is needed either.
	return append(args, "-nographic", "-no-reboot", "-nic", "none",
		"-kernel", b.Kernel, "-initrd", root,
		"-append", "console="+b.Row.Console+" panic=-1 quiet")
}

// Run boots the VM and waits until the program's status is in and the
// machine is off, or until the time limit.
func (b *boot) Run(ctx context.Context) (*result, error) {
	root := filepath.Join(b.Work, "root.img")
	var err error
	if b.Row.GOOS == "freebsd" {
		err = b.isoRoot(root)
	} else {
		err = b.initramfs(root)
	}
	if err != nil {
		return nil, err
	}
	args := b.qemuArgs(root)
	ctx, cancel := context.WithTimeout(ctx, b.Limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = nil
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w (Debian/Ubuntu packages qemu-system-x86, -arm, -misc, -ppc, -mips)", args[0], err)
	}
	res := &result{Status: -1}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		br := bufio.NewReaderSize(pr, 64<<10)
		var console, output bytes.Buffer
		started, ended := false, false
		exited := -1 // the status on vminit's "program exited" line
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				line = bytes.ReplaceAll(line, []byte("\r"), nil)
				console.Write(line)
				s := string(line)
				if !started {
					// The firmware's terminal escapes may precede it.
					if i := strings.Index(s, "vminit: "); i >= 0 {
						started, s = true, s[i:]
					}
				}
				if started && !ended {
					output.WriteString(s)
					if b.Out != nil {
						io.WriteString(b.Out, s)
					}
				}
				if st, ok := strings.CutPrefix(strings.TrimSpace(s), markerPrefix); ok && !ended {
					if n, err := strconv.Atoi(st); err == nil {
						res.Status, ended = n, true
						time.AfterFunc(afterMarker, cancel)
					}
				}
				// vminit says the status twice: on the marker line,
				// and before it on its own line, which the kernel's
				// shutdown messages cannot cut into (they come after
				// the marker).
				if rest, ok := strings.CutPrefix(strings.TrimSpace(s), exitedPrefix); ok {
					if n, err := strconv.Atoi(strings.Fields(rest + " x")[0]); err == nil {
						exited = n
					}
				}
				if rel, ok := strings.CutPrefix(s, "vminit: kernel "); ok && res.Release == "" {
					rel, _, _ = strings.Cut(rel, ";")
					res.Release = rel
				}
			}
			if err != nil {
				break
			}
		}
		if !ended && exited >= 0 {
			// The marker line was cut by the kernel's messages.
			res.Status = exited
		}
		res.Console, res.Output = console.Bytes(), output.Bytes()
	}()
	werr := cmd.Wait()
	pw.Close()
	wg.Wait()
	res.Wall = time.Since(start)
	if ctx.Err() != nil && res.Status < 0 {
		res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	} else if werr != nil && res.Status < 0 {
		return res, fmt.Errorf("%s: %v", args[0], werr)
	}
	return res, nil
}

func copyFile(dst, src string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTree copies the directories and regular files of src into dst,
// leaving out .git.
func copyTree(dst, src string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		t := filepath.Join(dst, rel)
		switch {
		case info.IsDir() && info.Name() == ".git" && p != src:
			return filepath.SkipDir
		case info.IsDir():
			return os.MkdirAll(t, 0o755)
		case info.Mode().IsRegular():
			return copyFile(t, p, info.Mode().Perm())
		}
		return nil
	})
}

// initCache builds vminit once per target for this process.
var initCache sync.Map // target string -> *initBuild

type initBuild struct {
	once sync.Once
	path string
	err  error
}

// buildInit cross-compiles .ci/vmtest/vminit for the kernel of row r (a
// FreeBSD kernel is amd64 whatever its row's GOARCH).
func buildInit(root, work string, r kernelRow) (string, error) {
	goarch, env := r.GOARCH, r.GoEnv
	if r.GOOS == "freebsd" {
		goarch, env = "amd64", nil
	}
	key := r.GOOS + "/" + goarch + " " + strings.Join(env, " ")
	v, _ := initCache.LoadOrStore(key, &initBuild{})
	ib := v.(*initBuild)
	ib.once.Do(func() {
		ib.path = filepath.Join(work, "vminit."+strings.Map(func(c rune) rune {
			if c == '/' || c == ' ' || c == '=' {
				return '_'
			}
			return c
		}, key))
		// Its files by name: it builds inside or outside a module.
		cmd := exec.Command("go", "build", "-trimpath", "-o", ib.path, "main.go", "init_"+r.GOOS+".go")
		cmd.Dir = filepath.Join(root, ".ci", "vmtest", "vminit")
		cmd.Env = append(os.Environ(), append([]string{"GOOS=" + r.GOOS, "GOARCH=" + goarch, "CGO_ENABLED=0", "GOFLAGS="}, env...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			ib.err = fmt.Errorf("build vminit for %s: %v\n%s", key, err, out)
		}
	})
	return ib.path, ib.err
}
