//go:build linux || freebsd

// Command vminit is PID 1 of a throw-away VM booted by .ci/vmtest: the only
// userland program besides the test binary it runs.
//
// It mounts what a Go test needs (Linux: proc, sys, devtmpfs on /dev, tmpfs
// on /tmp; FreeBSD: tmpfs on /tmp, devfs is mounted by the kernel), brings
// the loopback interface up (Linux: lo, which gets 127.0.0.1 and ::1 from
// the kernel; FreeBSD: lo0 with 127.0.0.1/8, ::1 comes with it), runs the
// program described by /vmtest/job (see readJob) in its working directory,
// prints the marker line
//
//	VMTEST-EXIT-STATUS: N
//
// and powers the machine off. Its own lines begin with "vminit: ". Status
// 125 means vminit could not set the machine up, 126 that there was no job,
// 127 that the program could not be started.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"
)

// jobFile holds the job: NUL-terminated fields, the first line of each a
// keyword (dir, env, arg).
const jobFile = "/vmtest/job"

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "vminit: "+format+"\n", a...)
}

type job struct {
	dir  string
	env  []string
	args []string
}

// readJob reads jobFile: a sequence of "KEY=VALUE\x00" records, KEY being
// dir, env or arg (in the order of the arguments).
func readJob() (job, error) {
	var j job
	b, err := os.ReadFile(jobFile)
	if err != nil {
		return j, err
	}
	for _, rec := range strings.Split(string(b), "\x00") {
		if rec == "" {
			continue
		}
		k, v, ok := strings.Cut(rec, "=")
		if !ok {
			return j, fmt.Errorf("%s: bad record %q", jobFile, rec)
		}
		switch k {
		case "dir":
			j.dir = v
		case "env":
			j.env = append(j.env, v)
		case "arg":
			j.args = append(j.args, v)
		default:
			return j, fmt.Errorf("%s: unknown key %q", jobFile, k)
		}
	}
	if len(j.args) == 0 {
		return j, errors.New(jobFile + ": no program")
	}
	return j, nil
}

func finish(status int) {
	// A newline first: the program's last line may lack one.
	fmt.Fprintf(os.Stdout, "\nVMTEST-EXIT-STATUS: %d\n", status)
	os.Stdout.Sync()
	drainConsole()
	powerOff()
	// If the machine does not power off, returning from PID 1 panics the
	// kernel, which (panic=-1, qemu -no-reboot) ends qemu too.
	time.Sleep(5 * time.Second)
	os.Exit(status)
}

// statusKilledSilently is runJob's status for a program killed by a signal
// before it wrote anything.
const statusKilledSilently = -1

// countingWriter passes writes on to w and counts the bytes.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.w.Write(p)
}

// runJob runs the job's program and returns its exit status: 128 when a
// signal killed it after it wrote something, statusKilledSilently when
// one killed it before, 127 when it could not be started.
func runJob(j job) int {
	cmd := exec.Command(j.args[0], j.args[1:]...)
	cmd.Dir = j.dir
	out := &countingWriter{w: os.Stdout}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = append([]string{"PATH=/bin", "HOME=/tmp", "TMPDIR=/tmp", "GOTRACEBACK=all"}, j.env...)
	err := cmd.Run()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		logf("run: %v", err)
		return 127
	}
	if status := ee.ExitCode(); status >= 0 {
		return status
	}
	logf("%v", err) // killed by a signal
	if out.n.Load() == 0 {
		return statusKilledSilently
	}
	return 128
}

func main() {
	start := time.Now()
	consoleSetup()
	if err := mounts(); err != nil {
		logf("%v", err)
		finish(125)
	}
	if err := loopbackUp(); err != nil {
		logf("loopback: %v", err)
		finish(125)
	}
	j, err := readJob()
	if err != nil {
		logf("%v", err)
		finish(126)
	}
	logf("kernel %s; userland up in %v; running %q in %s",
		kernelRelease(), time.Since(start).Round(time.Millisecond), j.args, j.dir)
	status := runJob(j)
	if status == statusKilledSilently {
		// The program was killed by a signal before it wrote a byte:
		// it never reached a test. Under TCG this happened twice in
		// about thirty boots of the 32-bit x86 kernel, to two
		// different binaries (SIGTRAP some 80ms after exec, nothing
		// printed, the same binary passing the next boots), and on no
		// other kernel: a start-up crash of the emulation, not a test
		// result. It is said, and run again once; a second time is
		// reported as it is.
		logf("the program was killed before it printed anything; running it once more")
		status = runJob(j)
	}
	if status == statusKilledSilently {
		status = 128
	}
	logf("program exited with status %d after %v", status, time.Since(start).Round(time.Millisecond))
	finish(status)
}
