package main

import (
	"net"
	"net/netip"

	"github.com/go-mmsg/mmsg"
)

// groDefault: the demo adds a GSO+GRO row unless told not to.
const groDefault = true

// groSegments is the number of datagrams of size bytes per GSO message:
// at most 64 (the kernel's UDP_MAX_SEGMENTS on older kernels) and at most
// 65507 bytes.
func groSegments(size int) int { return max(1, min(64, 65507/size)) }

// openGRO makes the functions of the GSO+GRO mode: the sender writes 8
// messages of segs datagrams each per WriteBatch (UDP GSO); the receiver,
// with UDP GRO on, reads up to 8 coalesced buffers of 64 KiB per
// ReadBatch and counts the datagrams in them.
func openGRO(rx, tx *net.UDPConn, dst netip.AddrPort, size, segs int) (recv, send ioFunc, err error) {
	rc, tc, err := newConns(rx, tx)
	if err != nil {
		return nil, nil, err
	}
	if err := rc.SetGRO(true); err != nil {
		return nil, nil, err
	}
	payload := make([]byte, segs*size)
	oob := mmsg.AppendSegmentSize(nil, uint16(size))
	out := make([]mmsg.Message, 8)
	for i := range out {
		out[i] = mmsg.Message{Buffers: [][]byte{payload}, OOB: oob, Addr: dst}
	}
	in := mmsg.NewMessages(8, mmsg.GROBufferSize, rc.OOBSize())
	var ctl mmsg.Control
	recv = func() (int, error) {
		n, err := rc.ReadBatch(in, 0)
		got := 0
		for i := range n {
			m := &in[i]
			if cerr := m.Control(&ctl); cerr != nil && err == nil {
				err = cerr
			}
			for range mmsg.Segments(m.Buffers[0][:m.N], ctl.SegmentSize) {
				got++
			}
		}
		return got, err
	}
	send = func() (int, error) {
		n, err := tc.WriteBatch(out, 0)
		return n * segs, err
	}
	return recv, send, nil
}
