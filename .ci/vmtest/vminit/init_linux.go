package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"
)

func consoleSetup() {
	// The kernel opened /dev/console (from the initramfs) as 0, 1 and 2.
}

func mounts() error {
	for _, m := range []struct {
		src, dir, fstype string
	}{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"},
	} {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount(m.src, m.dir, m.fstype, 0, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dir, err)
		}
	}
	return os.Chmod("/tmp", 0o1777)
}

// ifreq is struct ifreq with ifr_flags: the name and a union that is 24
// bytes on 64-bit kernels, 16 on 32-bit ones; the larger size serves both
// (the kernel copies sizeof(struct ifreq) bytes).
type ifreq struct {
	name  [16]byte
	flags int16
	_     [22]byte
}

const (
	siocGIFFLAGS = 0x8913 // <linux/sockios.h>, the same on every architecture
	siocSIFFLAGS = 0x8914
	iffUp        = 0x1
)

// loopbackUp sets IFF_UP on lo; the kernel then adds 127.0.0.1/8 and ::1.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer syscall.Close(fd)
	var r ifreq
	copy(r.name[:], "lo")
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), siocGIFFLAGS, uintptr(unsafe.Pointer(&r))); e != 0 {
		return fmt.Errorf("SIOCGIFFLAGS: %w", e)
	}
	r.flags |= iffUp
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), siocSIFFLAGS, uintptr(unsafe.Pointer(&r))); e != 0 {
		return fmt.Errorf("SIOCSIFFLAGS: %w", e)
	}
	return nil
}

func kernelRelease() string {
	return "Linux " + firstLine("/proc/sys/kernel/osrelease")
}

// drainConsole is FreeBSD's: with "quiet", Linux prints nothing at power
// off that could cut into the status line (and the host also reads the
// status from vminit's "program exited" line).
func drainConsole() {}

func powerOff() {
	syscall.Sync()
	if err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		logf("power off: %v", err)
	}
}

// firstLine returns the first line of a file, trimmed, or "?".
func firstLine(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if sc.Scan() {
		return strings.TrimSpace(sc.Text())
	}
	return "?"
}
