package main

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
)

// TestQuick runs the demo with -quick and checks that the table has a row
// per mode, in order, each with datagrams received.
func TestQuick(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-quick", "-batches", "1,8,64"}, &out, &errOut); code != 0 {
		t.Fatalf("exit status %d\nstderr:\n%s", code, errOut.String())
	}
	want := []string{"net.UDPConn 1", "mmsg.Conn 1", "mmsg.Conn 8", "mmsg.Conn 64"}
	var rows []string
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || (f[0] != "net.UDPConn" && f[0] != "mmsg.Conn") {
			continue
		}
		rows = append(rows, f[0]+" "+f[1])
		if received, err := strconv.ParseUint(f[3], 10, 64); err != nil || received == 0 {
			t.Errorf("%s batch %s received %q datagrams, want > 0", f[0], f[1], f[3])
		}
		if !strings.HasSuffix(f[7], "x") {
			t.Errorf("%s batch %s: speed-up %q", f[0], f[1], f[7])
		}
	}
	if strings.Join(rows, ",") != strings.Join(want, ",") {
		t.Errorf("rows %q, want %q\n%s", rows, want, out.String())
	}
	if !strings.Contains(errOut.String(), "received/s") {
		t.Errorf("no progress on stderr:\n%s", errOut.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-batches", "0"}, {"-batches", "8,x"}, {"-size", "70000"}, {"-duration", "0s"}, {"extra"},
	} {
		if code := run(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}
