//go:build linux && !cgo

package bench

import (
	"errors"
	"net/netip"
)

// haveC reports whether the C floor is built in: it needs cgo, which this
// build lacks (CGO_ENABLED=0 or no C compiler), so its benchmarks skip.
const haveC = false

type cBatch struct{}

var errNoCgo = errors.New("the C floor needs cgo (CGO_ENABLED=1 and a C compiler)")

func newCBatch(vlen, bufsz int) (*cBatch, error)       { return nil, errNoCgo }
func (c *cBatch) free()                                {}
func (c *cBatch) drain(fd, want int) (int, error)      { return 0, errNoCgo }
func (c *cBatch) recvOnce(fd int) (int, error)         { return 0, errNoCgo }
func (c *cBatch) msg(i int) ([]byte, netip.AddrPort)   { return nil, netip.AddrPort{} }
func (c *cBatch) setDest(dst netip.AddrPort, size int) {}
func (c *cBatch) send(fd, want int) (int, error)       { return 0, errNoCgo }
