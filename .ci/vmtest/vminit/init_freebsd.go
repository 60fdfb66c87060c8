package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

const (
	sysNmount  = 378 // nmount(2), <sys/syscall.h>
	rbHalt     = 0x8
	rbNoSync   = 0x4
	rbPowerOff = 0x4000

	siocSIFFLAGS = 0x80206910 // _IOW('i', 16, struct ifreq): 32 bytes
	siocGIFFLAGS = 0xc0206911 // _IOWR('i', 17, struct ifreq)
	siocAIFADDR  = 0x8044692b // _IOW('i', 43, struct in_aliasreq): 68 bytes
	iffUp        = 0x1
)

type ifreq struct {
	name  [16]byte
	flags int16
	_     [14]byte
}

type sockaddrIn struct {
	len    uint8
	family uint8
	port   uint16
	addr   [4]byte
	zero   [8]byte
}

type inAliasreq struct {
	name  [16]byte
	addr  sockaddrIn
	broad sockaddrIn
	mask  sockaddrIn
	vhid  int32
}

// consoleSetup makes /dev/console the standard input, output and error:
// FreeBSD starts init without open descriptors.
func consoleSetup() {
	c, err := os.OpenFile("/dev/console", os.O_RDWR, 0)
	if err != nil {
		return
	}
	for fd := 0; fd <= 2; fd++ {
		syscall.Dup2(int(c.Fd()), fd)
	}
}

func nmount(kv ...string) error {
	iov := make([]syscall.Iovec, len(kv))
	for i, s := range kv {
		b := append([]byte(s), 0)
		iov[i].Base = &b[0]
		iov[i].SetLen(len(b))
	}
	_, _, e := syscall.Syscall(sysNmount, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), 0)
	if e != 0 {
		return e
	}
	return nil
}

func mounts() error {
	if err := nmount("fstype", "tmpfs", "fspath", "/tmp"); err != nil {
		return fmt.Errorf("mount tmpfs on /tmp: %w", err)
	}
	return os.Chmod("/tmp", 0o1777)
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// loopbackUp sets IFF_UP on lo0 (the kernel then adds ::1) and gives it
// 127.0.0.1/8, which FreeBSD's rc scripts would otherwise add.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer syscall.Close(fd)
	var r ifreq
	copy(r.name[:], "lo0")
	if err := ioctl(fd, siocGIFFLAGS, unsafe.Pointer(&r)); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS: %w", err)
	}
	r.flags |= iffUp
	if err := ioctl(fd, siocSIFFLAGS, unsafe.Pointer(&r)); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS: %w", err)
	}
	var a inAliasreq
	copy(a.name[:], "lo0")
	a.addr = sockaddrIn{len: 16, family: syscall.AF_INET, addr: [4]byte{127, 0, 0, 1}}
	a.mask = sockaddrIn{len: 16, family: syscall.AF_INET, addr: [4]byte{255, 0, 0, 0}}
	if err := ioctl(fd, siocAIFADDR, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("SIOCAIFADDR 127.0.0.1/8: %w", err)
	}
	return nil
}

func kernelRelease() string {
	s, err := syscall.Sysctl("kern.osrelease")
	if err != nil {
		return "FreeBSD ?"
	}
	return "FreeBSD " + s
}

// drainConsole waits until the console has sent what was written to it
// (tcdrain): the kernel prints its shutdown messages straight to the
// console, and would cut into a status line still in the tty's queue
// ("VMTEST-EXIT-STWaiting (max 60 seconds) for system process `vnlru' to
// stop... done ATUS: 0", seen once).
func drainConsole() {
	syscall.Syscall(syscall.SYS_IOCTL, 1, syscall.TIOCDRAIN, 0)
}

func powerOff() {
	syscall.Sync()
	syscall.Syscall(syscall.SYS_REBOOT, rbPowerOff|rbNoSync, 0, 0)
	syscall.Syscall(syscall.SYS_REBOOT, rbHalt, 0, 0)
}
