package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

var outMu sync.Mutex

// infof and warnf print the runner's own lines on standard error.
func infof(format string, a ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stderr, "vmtest: "+format+"\n", a...)
}

func warnf(format string, a ...any) { infof("WARNING: "+format, a...) }

// lockFile takes an exclusive flock(2) on name, which it creates: two
// runners sharing the cache do not download the same kernel at once.
func lockFile(name string) (unlock func(), err error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// cacheDir is the one per-user cache of the runner:
// ${XDG_CACHE_HOME:-$HOME/.cache}/mmsg/vm (os.UserCacheDir's rule on
// Linux). MMSG_VM_CACHE overrides it.
func cacheDir() (string, error) {
	if d := os.Getenv("MMSG_VM_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (%v): set XDG_CACHE_HOME, HOME or MMSG_VM_CACHE", err)
	}
	return filepath.Join(d, "mmsg", "vm"), nil
}

// freebsdKernel returns $FREEBSD_KERNEL, else CACHE/freebsd/kernel if it
// exists; "" and a reason when there is none.
func freebsdKernel(cache string) (string, string) {
	if k := os.Getenv("FREEBSD_KERNEL"); k != "" {
		if !fileExists(k) {
			return "", "FREEBSD_KERNEL=" + k + " is not a file"
		}
		abs, err := filepath.Abs(k)
		if err != nil {
			return "", err.Error()
		}
		return abs, ""
	}
	k := filepath.Join(cache, "freebsd", "kernel")
	if fileExists(k) {
		return k, ""
	}
	return "", "no FreeBSD kernel: none at " + k + " and FREEBSD_KERNEL is not set (a FreeBSD amd64 kernel with a PVH entry, built from FreeBSD's source; see docs/kernels.md)"
}
