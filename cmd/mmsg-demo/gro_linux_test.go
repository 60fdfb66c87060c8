package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestQuickGRO checks the GSO+GRO row: datagrams received, and the batch
// column is the datagrams per GSO message.
func TestQuickGRO(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-quick", "-batches", "8", "-size", "1200"}, &out, &errOut); code != 0 {
		t.Fatalf("exit status %d\nstderr:\n%s", code, errOut.String())
	}
	found := false
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "GSO+GRO" {
			continue
		}
		found = true
		if f[1] != "54" {
			t.Errorf("batch %s, want 54 datagrams of 1200 bytes per message", f[1])
		}
		if received, err := strconv.ParseUint(f[3], 10, 64); err != nil || received == 0 {
			t.Errorf("received %q datagrams, want > 0", f[3])
		}
	}
	if !found {
		t.Errorf("no GSO+GRO row:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"-quick", "-batches", "8", "-gro=false"}, &out, &errOut); code != 0 || strings.Contains(out.String(), "GSO+GRO  ") {
		t.Errorf("-gro=false: exit %d\n%s", code, out.String())
	}
}
