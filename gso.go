//go:build linux || freebsd

package mmsg

import (
	"io"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The GSO fallback of WriteBatch. A message with a UDP_SEGMENT control
// message (AppendSegmentSize) goes to the kernel as one super-buffer while
// GSO works. When the kernel refuses it (gsoRefused), or once the Conn has
// turned GSO off (always on FreeBSD), the message is split here: one plain
// datagram per segment, each with the message's other control messages,
// sent with sendmmsg from the connBatch's own arrays (up to MaxSendBatch
// segments per call), so nothing is allocated in the steady state.

// splitState is the progress of the message ms[sent] being sent as plain
// datagrams: hdrs[next:count] are its unsent prepared segments.
type splitState struct {
	on    bool
	probe bool // GSO was refused for this message: turn it off once a plain datagram goes through
	size  int  // segment size
	total int  // payload bytes of the message
	off   int  // payload offset of hdrs[0]
	next  int
	count int
	n     int    // bytes sent so far, for the message's N
	oob   []byte // the message's OOB without UDP_SEGMENT
}

// isGSOMessage reports whether m carries a usable UDP_SEGMENT.
func isGSOMessage(m *Message) bool {
	if len(m.OOB) == 0 {
		return false
	}
	size, _, _, ok := segmentSize(m.OOB)
	return ok && size > 0
}

// gsoCut returns the messages of rest before the first GSO message.
func gsoCut(rest []Message) []Message {
	for i := range rest {
		if isGSOMessage(&rest[i]) {
			return rest[:i]
		}
	}
	return rest
}

// gsoRefused reports whether err, the error sendmmsg gave for ms[sent], is
// a refusal of GSO for a GSO message, and if so prepares to send that
// message as plain datagrams. EIO comes from devices without checksum
// offload (and from paths through IPsec); EINVAL from too many segments, a
// segment larger than the MTU or a socket without UDP checksums.
func (b *connBatch) gsoRefused(err error) bool {
	switch err {
	case unix.EIO, unix.EINVAL, unix.ENOPROTOOPT, unix.EOPNOTSUPP:
	default:
		return false
	}
	if !isGSOMessage(&b.ms[b.sent]) {
		return false
	}
	b.prepareSplit(true)
	return true
}

// prepareSplit sets the headers up for the next segments of ms[sent]. On
// an error the message is not started: b.stop holds the error for it.
func (b *connBatch) prepareSplit(probe bool) {
	m := &b.ms[b.sent]
	sp := &b.split
	if !sp.on {
		size, start, end, _ := segmentSize(m.OOB)
		*sp = splitState{on: true, probe: probe, size: size, total: buffersLen(m.Buffers),
			oob: append(append(sp.oob[:0], m.OOB[:start]...), m.OOB[end:]...)}
	} else {
		sp.off = min(sp.off+sp.count*sp.size, sp.total)
	}
	// No chunk of whole messages is in flight.
	b.start, b.end, b.stop = b.sent, b.sent, nil
	fail := func(err error) {
		sp.on = false
		b.stop = err
	}
	if len(m.Buffers) > maxIovecs {
		fail(unix.EMSGSIZE)
		return
	}
	segs := max(1, (sp.total-sp.off+sp.size-1)/sp.size) // an empty message is one empty datagram
	segs = min(segs, MaxSendBatch)
	b.grow(segs, segs+len(m.Buffers))
	var nameLen uint32
	if m.Addr.IsValid() {
		var err error
		if nameLen, err = putSockaddr(&b.names[0], b.family, m.Addr); err != nil {
			fail(err)
			return
		}
	}
	// Find the buffer holding byte off, then cut segments from there.
	bi, bo := 0, sp.off
	for bi < len(m.Buffers) && bo >= len(m.Buffers[bi]) && bo > 0 {
		bo -= len(m.Buffers[bi])
		bi++
	}
	k, pos := 0, sp.off
	for j := range segs {
		h := &b.hdrs[j]
		*h = Mmsghdr{}
		first := k
		for rem := min(sp.size, sp.total-pos); rem > 0; {
			buf := m.Buffers[bi][bo:]
			take := min(len(buf), rem)
			if take > 0 {
				v := &b.iovs[k]
				v.Base = &buf[0]
				v.SetLen(take)
				k++
			}
			rem -= take
			pos += take
			if bo += take; bo == len(m.Buffers[bi]) {
				bi, bo = bi+1, 0
			}
		}
		if k == first {
			// An empty datagram: one empty iovec rather than none,
			// which qemu-user would not send.
			b.iovs[k] = unix.Iovec{}
			k++
		}
		h.Hdr.Iov = &b.iovs[first]
		h.Hdr.SetIovlen(k - first)
		if len(sp.oob) > 0 {
			h.Hdr.Control = &sp.oob[0]
			h.Hdr.SetControllen(len(sp.oob))
		}
		if nameLen != 0 {
			h.Hdr.Name = (*byte)(unsafe.Pointer(&b.names[0]))
			h.Hdr.Namelen = nameLen
		}
	}
	sp.next, sp.count = 0, segs
}

// writeSplit sends prepared segments of ms[sent]. It returns false when
// the socket buffer is full and nothing was sent (park and call again),
// true otherwise, with b.err set if an error stopped the message: its N
// then counts the bytes of the segments already sent.
func (b *connBatch) writeSplit(fd int) bool {
	sp := &b.split
	hs := b.hdrs[sp.next:sp.count]
	n, err := sendmmsg(fd, hs, b.flags)
	for i := range n {
		sp.n += int(hs[i].Len)
	}
	sp.next += n
	if n > 0 && sp.probe {
		// A plain datagram went where the GSO message did not:
		// GSO is what the kernel or device refused.
		b.st.gsoOff.Store(true)
		sp.probe = false
	}
	switch {
	case err == unix.EAGAIN:
		return false
	case err != nil:
		b.ms[b.sent].N = sp.n
		sp.on = false
		b.err = err
		return true
	case n == 0:
		sp.on = false
		b.err = io.ErrNoProgress
		return true
	}
	if sp.next < sp.count {
		return true
	}
	if sp.off+sp.count*sp.size < sp.total {
		b.prepareSplit(false)
		return true
	}
	b.ms[b.sent].N = sp.n
	sp.on = false
	b.sent++
	b.start, b.end = b.sent, b.sent
	return true
}

// connState is the mutable state of a Conn, shared by its calls.
type connState struct {
	gsoOff atomic.Bool // UDP_SEGMENT messages are split into plain datagrams
}

func newConnState() *connState {
	st := new(connState)
	st.gsoOff.Store(!gsoAvailable)
	return st
}

// GSODisabled reports whether the Conn sends UDP_SEGMENT messages
// (AppendSegmentSize) as plain datagrams, one per segment: always on
// FreeBSD; on Linux, once the kernel or the device refused GSO (EIO,
// EINVAL, ENOPROTOOPT or EOPNOTSUPP for such a message, where a plain
// datagram then went through). The message that met the refusal is sent
// that way too, so nothing is lost or sent twice.
func (c *Conn) GSODisabled() bool { return c.sys.st.gsoOff.Load() }
