package mmsg

import (
	"bytes"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// queuedPayloadBytes reports whether the bytes queued on fd can be known:
// not on Linux, whose FIONREAD gives the size of the first datagram only.
// Nothing is needed there: Linux delivers a loopback datagram before the
// sending call returns, so once one is queued (waitQueued), all are.
func queuedPayloadBytes(testing.TB, int) (int, bool) { return 0, false }

func setSockaddrLen4(*unix.RawSockaddrInet4) {}
func setSockaddrLen6(*unix.RawSockaddrInet6) {}

// threadID and signalThread aim a signal at one OS thread.
func threadID() int { return unix.Gettid() }

func signalThread(tid int, sig unix.Signal) error { return unix.Tgkill(unix.Getpid(), tid, sig) }

// loopbackSegmentsUDP reports whether the loopback device carries a UDP
// GSO datagram whole: whether its active features include
// tx-udp-segmentation (NETIF_F_GSO_UDP_L4), read with the SIOCETHTOOL
// ioctl as `ethtool -k lo` does. Without it the transmit path segments a
// GSO datagram in software before lo (validate_xmit_skb, net/core/dev.c)
// and its datagrams reach a receiver one by one, UDP_GRO or not. Linux
// 5.11 added the feature to NETIF_F_GSO_SOFTWARE, which lo has (commit
// 2e4ef10f5850, "net: add GSO UDP L4 and GSO fraglists to the list of
// software-backed types"); 5.10's lo has no way to turn it on. Where the
// ioctl fails (qemu-user does not translate it), the kernel's version
// decides.
func loopbackSegmentsUDP(t testing.TB) bool {
	t.Helper()
	on, err := loopbackFeature("tx-udp-segmentation")
	if err != nil {
		major, minor, release := kernelRelease(t)
		t.Logf("lo's features: %v; deciding by the kernel's version, %s", err, release)
		return major > 5 || major == 5 && minor >= 11
	}
	return on
}

// loopbackFeature reports whether the loopback device's active features
// include the one ethtool names name (false if it has no such feature).
func loopbackFeature(name string) (bool, error) {
	const (
		siocEthtool     = 0x8946
		ethtoolGSsetInf = 0x37 // ETHTOOL_GSSET_INFO
		ethtoolGStrings = 0x1b // ETHTOOL_GSTRINGS
		ethtoolGFeature = 0x3a // ETHTOOL_GFEATURES
		ethSSFeatures   = 4    // ETH_SS_FEATURES
		gstringLen      = 32   // ETH_GSTRING_LEN
	)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	ethtool := func(buf []uint32) error {
		// struct ifreq: the name, then ifr_data.
		var ifr struct {
			name [unix.IFNAMSIZ]byte
			data unsafe.Pointer
			_    [24]byte
		}
		copy(ifr.name[:], "lo")
		ifr.data = unsafe.Pointer(&buf[0])
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), siocEthtool, uintptr(unsafe.Pointer(&ifr))); e != 0 {
			return fmt.Errorf("SIOCETHTOOL %#x on lo: %w", buf[0], e)
		}
		return nil
	}
	// struct ethtool_sset_info: cmd, reserved, u64 sset_mask, data[].
	info := make([]uint32, 5)
	info[0] = ethtoolGSsetInf
	*(*uint64)(unsafe.Pointer(&info[2])) = 1 << ethSSFeatures
	if err := ethtool(info); err != nil {
		return false, err
	}
	if *(*uint64)(unsafe.Pointer(&info[2])) == 0 {
		return false, fmt.Errorf("lo has no feature strings")
	}
	n := int(info[4])
	// struct ethtool_gstrings: cmd, string_set, len, data[len*32].
	strs := make([]uint32, 3+n*gstringLen/4)
	strs[0], strs[1], strs[2] = ethtoolGStrings, ethSSFeatures, uint32(n)
	if err := ethtool(strs); err != nil {
		return false, err
	}
	names := unsafe.Slice((*byte)(unsafe.Pointer(&strs[3])), n*gstringLen)
	bit := -1
	for i := range n {
		s := names[i*gstringLen : (i+1)*gstringLen]
		if k := bytes.IndexByte(s, 0); k >= 0 {
			s = s[:k]
		}
		if string(s) == name {
			bit = i
		}
	}
	if bit < 0 {
		return false, nil
	}
	// struct ethtool_gfeatures: cmd, size, then size blocks of
	// {available, requested, active, never_changed}.
	blocks := (n + 31) / 32
	feat := make([]uint32, 2+4*blocks)
	feat[0], feat[1] = ethtoolGFeature, uint32(blocks)
	if err := ethtool(feat); err != nil {
		return false, err
	}
	return feat[2+4*(bit/32)+2]&(1<<(bit%32)) != 0, nil
}

// kernelRelease is the running kernel's version, major and minor.
func kernelRelease(t testing.TB) (major, minor int, release string) {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	release = unix.ByteSliceToString(u.Release[:])
	fmt.Sscanf(release, "%d.%d", &major, &minor)
	return major, minor, release
}

// blockSignals blocks the signals of set on the calling thread and
// returns the mask it had; setSignalMask puts a mask back.
func blockSignals(set *unix.Sigset_t) (old unix.Sigset_t, err error) {
	err = unix.PthreadSigmask(unix.SIG_BLOCK, set, &old)
	return old, err
}

func setSignalMask(mask *unix.Sigset_t) error {
	return unix.PthreadSigmask(unix.SIG_SETMASK, mask, nil)
}

// sigsetFill is every signal that may arrive from elsewhere, for
// quietThread: all but the ones a fault of the thread itself raises.
func sigsetFill(s *unix.Sigset_t) {
	bits := uint(unsafe.Sizeof(s.Val[0]) * 8)
	for sig := uint(1); sig < 65; sig++ {
		switch unix.Signal(sig) {
		case unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS:
			continue
		}
		s.Val[(sig-1)/bits] |= 1 << ((sig - 1) % bits)
	}
}

// sendOnOneCPU locks the calling goroutine to its thread and that thread
// to one CPU, until the returned function undoes both. Linux's loopback
// queues a datagram on the backlog of the CPU that sent it (netif_rx), and
// each CPU drains its own: a sender that moves to another CPU in the
// middle of a batch (sendmmsg reschedules between messages) can have
// later datagrams delivered before earlier ones, as seen once in 15 runs
// on a 2-CPU i386 6.1 kernel (datagram 913 after 1237). Tests that check
// the order of many loopback datagrams send from one CPU.
func sendOnOneCPU(t testing.TB) (restore func()) {
	t.Helper()
	runtime.LockOSThread()
	var old, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("sched_getaffinity: %v", err)
	}
	for cpu := 0; cpu < len(old)*int(unsafe.Sizeof(old[0]))*8; cpu++ {
		if old.IsSet(cpu) {
			one.Set(cpu)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("sched_setaffinity: %v", err)
	}
	return func() {
		if err := unix.SchedSetaffinity(0, &old); err != nil {
			t.Errorf("sched_setaffinity: %v", err)
			return // leave the thread locked: it dies with the goroutine
		}
		runtime.UnlockOSThread()
	}
}

// loopbackDelivered returns once what this thread sent over loopback
// before it has reached its receivers. Loopback delivery usually ends
// before sendto returns (the receive softirq runs as the send leaves its
// bh-disabled section), but on a loaded machine it can be left to
// ksoftirqd: a test that sends and at once expects every datagram queued
// then finds one missing (seen once on a 2-CPU amd64 6.1 kernel under
// qemu: 2 of 3). Each CPU's backlog is drained in order, so a probe
// datagram sent after them on the same CPU arrives after them: call it
// inside sendOnOneCPU, after the sends it is to wait for.
func loopbackDelivered(t testing.TB) {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	rfd, raddr := udpSocket(t, unix.AF_INET, lo, false)
	sfd, _ := udpSocket(t, unix.AF_INET, lo, false)
	if err := unix.Sendto(sfd, []byte("probe"), 0, sockaddr(raddr)); err != nil {
		t.Fatalf("sendto: %v", err)
	}
	waitQueued(t, rfd)
}
