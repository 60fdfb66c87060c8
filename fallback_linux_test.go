package mmsg

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompChildEnv marks the subprocess in which TestENOSYSFallback installs
// its seccomp filter.
const seccompChildEnv = "MMSG_SECCOMP_CHILD"

// auditArchs maps GOARCH to the AUDIT_ARCH value the kernel puts in
// seccomp_data.arch for this process's system calls.
var auditArchs = map[string]uint32{
	"386":      unix.AUDIT_ARCH_I386,
	"amd64":    unix.AUDIT_ARCH_X86_64,
	"arm":      unix.AUDIT_ARCH_ARM,
	"arm64":    unix.AUDIT_ARCH_AARCH64,
	"loong64":  unix.AUDIT_ARCH_LOONGARCH64,
	"mips":     unix.AUDIT_ARCH_MIPS,
	"mipsle":   unix.AUDIT_ARCH_MIPSEL,
	"mips64":   unix.AUDIT_ARCH_MIPS64,
	"mips64le": unix.AUDIT_ARCH_MIPSEL64,
	"ppc64":    unix.AUDIT_ARCH_PPC64,
	"ppc64le":  unix.AUDIT_ARCH_PPC64LE,
	"riscv64":  unix.AUDIT_ARCH_RISCV64,
	"s390x":    unix.AUDIT_ARCH_S390X,
}

// TestENOSYSFallback checks the recvLoop/sendLoop fallback against a real
// seccomp filter that makes recvmmsg(2) and sendmmsg(2) answer ENOSYS, as
// sandboxes do. A filter cannot be removed once installed and would poison
// every later test of this binary, so the test re-executes the binary and
// installs it in that child only.
func TestENOSYSFallback(t *testing.T) {
	if os.Getenv(seccompChildEnv) == "1" {
		enosysChild(t)
		return
	}
	if underQEMU() {
		t.Skip("qemu-user does not emulate seccomp filters")
	}
	if _, ok := auditArchs[runtime.GOARCH]; !ok {
		t.Skipf("no AUDIT_ARCH known for %s", runtime.GOARCH)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestENOSYSFallback$", "-test.v")
	cmd.Env = append(os.Environ(), seccompChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("child: %v (context: %v)\n%s", err, ctx.Err(), out)
	case bytes.Contains(out, []byte("--- SKIP: TestENOSYSFallback")):
		t.Skipf("child skipped:\n%s", out)
	case !bytes.Contains(out, []byte("seccomp fallback ok")) ||
		!bytes.Contains(out, []byte("--- PASS: TestENOSYSFallback")):
		t.Fatalf("child did not run its checks:\n%s", out)
	}
}

// installENOSYSFilter makes recvmmsg(2) and sendmmsg(2) fail with ENOSYS
// in the whole process, or skips the test when seccomp is unavailable.
func installENOSYSFilter(t *testing.T) {
	arch, ok := auditArchs[runtime.GOARCH]
	if !ok {
		t.Skipf("no AUDIT_ARCH known for %s", runtime.GOARCH)
	}
	// if arch != ours: allow; if nr is recvmmsg or sendmmsg: ENOSYS; else allow.
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4}, // seccomp_data.arch
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: arch, Jf: 3},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_RECVMMSG, Jt: 2},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_SENDMMSG, Jt: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}

	// Both calls act on the calling thread, so they must run on the same
	// one. A filter normally covers only that thread, yet the runtime may
	// run the code under test on any thread: TSYNC puts it (and
	// no_new_privs) on every thread of the process.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// no_new_privs lets an unprivileged process install a filter.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Skipf("seccomp unavailable: prctl(PR_SET_NO_NEW_PRIVS): %v", err)
	}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	switch {
	case e == unix.EINVAL || e == unix.EPERM || e == unix.ENOSYS:
		t.Skipf("seccomp unavailable: seccomp(SECCOMP_SET_MODE_FILTER): %v", e)
	case e != 0:
		t.Fatalf("seccomp: %v", e)
	case r != 0:
		t.Fatalf("seccomp: thread %d could not be synchronized", r)
	}
}

func enosysChild(t *testing.T) {
	if noRecvmmsg.Load() || noSendmmsg.Load() {
		t.Fatal("fallback already in use before the filter")
	}
	installENOSYSFilter(t)

	// The filter is in force on every thread: the bare system calls answer
	// ENOSYS (EBADF without the filter) on several threads at once, each
	// goroutine holding its own thread until all have arrived.
	// (Both counts are set before any goroutine starts: one that
	// arrived and waited while the loop still added would reuse the
	// WaitGroup, a panic seen under qemu TCG on s390x.)
	const threads = 4
	var arrived, done sync.WaitGroup
	arrived.Add(threads)
	done.Add(threads)
	for range threads {
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			arrived.Done()
			arrived.Wait()
			for _, nr := range []uintptr{unix.SYS_RECVMMSG, unix.SYS_SENDMMSG} {
				if _, _, e := unix.Syscall6(nr, ^uintptr(0), 0, 0, 0, 0, 0); e != unix.ENOSYS {
					t.Errorf("system call %d on thread %d: %v; want ENOSYS", nr, unix.Gettid(), e)
				}
			}
		}()
	}
	done.Wait()
	if t.Failed() {
		t.FailNow()
	}

	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			fd, addr := udpSocket(t, f.af, f.addr, false)
			sfd, saddr := udpSocket(t, f.af, f.addr, false)

			ps := payloads(3, 10, 20, 30)
			msgs := sendHeaders(ps, addr)
			n, err := Sendmmsg(sfd, msgs, 0)
			if err != nil || n != 3 {
				t.Fatalf("Sendmmsg = %d, %v; want 3, nil", n, err)
			}
			for i := range n {
				if int(msgs[i].Len) != len(ps[i]) {
					t.Errorf("sent msgs[%d].Len = %d; want %d", i, msgs[i].Len, len(ps[i]))
				}
			}

			// A blocking socket with 3 queued: MSG_WAITFORONE takes
			// them and does not wait for the other 5.
			waitQueuedBytes(t, fd, payloadBytes(ps...))
			b := newBatch(8, 64)
			n, err = Recvmmsg(fd, b.msgs, MSG_WAITFORONE, nil)
			if err != nil || n != 3 {
				t.Fatalf("Recvmmsg(MSG_WAITFORONE) = %d, %v; want 3, nil", n, err)
			}
			for i := range n {
				if !bytes.Equal(b.payload(i), ps[i]) {
					t.Errorf("msgs[%d] = %q; want %q", i, b.payload(i), ps[i])
				}
				if src := rawAddr(&b.msgs[i].Hdr); src != saddr {
					t.Errorf("msgs[%d] from %v; want %v", i, src, saddr)
				}
			}

			// Nothing queued: the time-out path (non-blocking loop + ppoll).
			start := time.Now()
			n, err = Recvmmsg(fd, newBatch(2, 16).msgs, 0, &unix.Timespec{Nsec: 50e6})
			if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("Recvmmsg(50ms) = %d, %v; want 0 and a time-out", n, err)
			}
			if e := time.Since(start); e < 40*time.Millisecond {
				t.Errorf("time-out after %v; want about 50ms", e)
			}
		})
	}

	// SA_RESTART restarts a blocking recvmsg: a signal must still end the
	// fallback loop's wait for the rest of a batch.
	t.Run("SignalEndsWaitForMore", func(t *testing.T) {
		signalEndsWaitForMore(t, func(fd int, msgs []Mmsghdr, flags int) (int, error) {
			return Recvmmsg(fd, msgs, flags, nil)
		})
	})

	// Errors name the calls the loop makes: recvmsg and sendmsg.
	t.Run("ErrorNames", func(t *testing.T) {
		fd, addr := udpSocket(t, unix.AF_INET, netip.MustParseAddr("127.0.0.1"), true)
		_, err := Recvmmsg(fd, newBatch(2, 16).msgs, 0, nil)
		checkCall(t, "Recvmmsg on an empty socket", err, "recvmsg", unix.EAGAIN)
		_, err = Sendmmsg(fd, sendHeaders([][]byte{make([]byte, 70000)}, addr), 0)
		checkCall(t, "Sendmmsg of an oversized datagram", err, "sendmsg", unix.EMSGSIZE)

		uc := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
		uc.SetDeadline(time.Now().Add(30 * time.Second))
		c := connNew(t, uc)
		dst := connAddr(uc)
		_, err = c.WriteBatch([]Message{{Buffers: [][]byte{[]byte("x")}, Addr: dst}, {Buffers: [][]byte{make([]byte, 70000)}, Addr: dst}}, 0)
		checkCall(t, "WriteBatch of a batch", err, "sendmsg", unix.EMSGSIZE)
		_, err = c.WriteBatch([]Message{{Buffers: [][]byte{make([]byte, 70000)}, Addr: dst}}, 0)
		checkCall(t, "WriteBatch of one message", err, "sendto", unix.EMSGSIZE)
		big := Message{Buffers: make([][]byte, maxIovecs+1)}
		_, err = c.ReadBatch([]Message{big}, 0)
		checkCall(t, "ReadBatch of too many buffers", err, "recvmsg", unix.EMSGSIZE)
	})

	if !noSendmmsg.Load() || !noRecvmmsg.Load() {
		t.Fatalf("noSendmmsg = %v, noRecvmmsg = %v; want both true", noSendmmsg.Load(), noRecvmmsg.Load())
	}
	if !t.Failed() {
		t.Log("seccomp fallback ok")
	}
}
