//go:build linux || freebsd

package mmsg

import (
	"net/netip"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// headers is the kernel side of one ReadBatch or WriteBatch call: the
// struct mmsghdr array and the iovecs, socket addresses and control data
// its pointers lead to. This file packs Messages into headers and back,
// without system calls (conn_batch.go makes them), as x/net's ipv4 keeps
// packing apart from the call.
//
// headers are pooled, so a call in the steady state allocates nothing: the
// arrays only grow. While in the pool they hold no pointer to user memory.
// The RawConn callbacks are method values bound once (conn_batch.go).
//
// Buffers are never copied: the iovecs point into them. Control data is
// copied, into h.oob, both ways (a few dozen bytes a message): a pointer
// to a Message's OOB kept here would make Go's escape analysis, which
// does not tell a struct's fields apart, move every Buffers slice of the
// caller's Messages to the heap, and a one-message call with slice
// literals (the usual way to write one) would allocate twice.
type headers struct {
	hdrs   []Mmsghdr
	iovs   []unix.Iovec
	names  []unix.RawSockaddrInet6 // large enough for sockaddr_in too
	pieces []piece                 // write: what each header carries
	oob    []byte                  // the messages' control data (see packRead)

	count int // headers packed

	// The state of the system calls on hdrs[:count] (conn_batch.go).
	call
	done    int // headers received or sent
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool

	// used bounds the headers and iovecs that may point to user memory.
	used, iovsUsed int
}

// piece is where the datagram of one write header comes from: the bytes
// [off, off+len) of the payload of ms[msg]. A GSO message's pieces also
// say how setHeader builds their header: iovecs iovs[iov:iov+niov], the
// control data h.oob[oob:oob+noob] and the socket address names[name]; a
// plain message's header is built in place (packPlain).
type piece struct {
	msg, off, len int
	segs          int32 // > 0: a UDP GSO datagram the kernel cuts into segs segments
	iov, niov     int32
	oob, noob     int32
	name          int32  // its destination is names[name]
	nameLen       uint32 // 0: no destination
	last          bool   // the message's last datagram
}

var headersPool = sync.Pool{New: func() any {
	h := new(headers)
	h.readFn = h.read
	h.writeFn = h.write
	return h
}}

func getHeaders(flags int) *headers {
	h := headersPool.Get().(*headers)
	h.flags = flags
	return h
}

// put clears every pointer to user memory and returns h to the pool.
func (h *headers) put() {
	clear(h.hdrs[:h.used])
	clear(h.iovs[:h.iovsUsed])
	h.used, h.iovsUsed, h.count, h.done = 0, 0, 0, 0
	h.call = call{}
	headersPool.Put(h)
}

// grow makes room for n headers and k iovecs, keeping the packed ones.
// Headers packed before a growth keep pointing into the old arrays (and
// h.oob's), which still hold what they were given: nothing writes there
// any more, and they stay alive as long as the headers point to them.
func (h *headers) grow(n, k int) {
	if n > len(h.hdrs) {
		add := max(n, 2*len(h.hdrs), 8) - len(h.hdrs)
		h.hdrs = append(h.hdrs, make([]Mmsghdr, add)...)
		h.names = append(h.names, make([]unix.RawSockaddrInet6, add)...)
		h.pieces = append(h.pieces, make([]piece, add)...)
	}
	if k > len(h.iovs) {
		h.iovs = append(h.iovs, make([]unix.Iovec, max(k, 2*len(h.iovs), 8)-len(h.iovs))...)
	}
	h.used = max(h.used, n)
	h.iovsUsed = max(h.iovsUsed, k)
}

// setIovecs points iovs[k:] at the bytes [off, off+n) of bufs and returns
// how many iovecs it used. A datagram with no bytes gets one empty iovec
// rather than none, which qemu-user would not send.
//
// A buffer that starts where the previous one ends in memory (packets
// sliced back to back out of one array) extends the previous iovec
// instead of taking one of its own: the kernel reads the same bytes in
// the same order, and copies a datagram of one iovec faster than one of
// many. On Linux 6.18, 43 packets of 1452 bytes in one GSO datagram
// spent about twice the time in _copy_from_iter as one iovec of the same
// bytes (perf record, bench's BenchmarkGSOFormPaired): a single iovec is
// an ITER_UBUF, a straight copy; many are walked one copy_from_user each.
func (h *headers) setIovecs(k int, bufs [][]byte, off, n int) int {
	first := k
	var end uintptr // where the last iovec's bytes end
	for _, b := range bufs {
		if n == 0 {
			break
		}
		if off >= len(b) {
			off -= len(b) // before the bytes wanted, or empty
			continue
		}
		b = b[off:]
		off = 0
		take := min(len(b), n)
		n -= take
		if start := uintptr(unsafe.Pointer(&b[0])); start == end && k > first {
			v := &h.iovs[k-1]
			v.SetLen(int(v.Len) + take)
			end += uintptr(take)
			continue
		}
		h.iovs[k] = unix.Iovec{Base: &b[0]}
		h.iovs[k].SetLen(take)
		end = uintptr(unsafe.Pointer(&b[0])) + uintptr(take)
		k++
	}
	if k == first {
		h.iovs[k] = unix.Iovec{}
		k++
	}
	return k - first
}

// packRead sets up one header per message of ms, each with its buffers,
// OOB and, on an IP socket, a name buffer, and returns how many it set up:
// it stops before a message with more than maxIovecs buffers (0 if ms[0]
// has too many). Every field, value-result ones included, is set afresh.
func (h *headers) packRead(ms []Message, family int) int {
	count, iovs, oobs := 0, 0, 0
	for i := range ms {
		if len(ms[i].Buffers) > maxIovecs {
			break
		}
		iovs += max(len(ms[i].Buffers), 1)
		oobs += len(ms[i].OOB)
		count++
	}
	h.grow(count, iovs)
	h.oob = append(h.oob[:0], make([]byte, oobs)...)[:0]
	withName := family != familyOther
	k := 0
	for i := range count {
		m, hd := &ms[i], &h.hdrs[i]
		*hd = Mmsghdr{}
		if len(m.Buffers) > 0 {
			hd.Hdr.Iov = &h.iovs[k]
			hd.Hdr.SetIovlen(len(m.Buffers))
			for _, b := range m.Buffers {
				v := &h.iovs[k]
				*v = unix.Iovec{}
				if len(b) > 0 {
					v.Base = &b[0]
				}
				v.SetLen(len(b))
				k++
			}
		}
		if len(m.OOB) > 0 {
			off := len(h.oob)
			h.oob = h.oob[:off+len(m.OOB)]
			hd.Hdr.Control = &h.oob[off]
			hd.Hdr.SetControllen(len(m.OOB))
		}
		if withName {
			hd.Hdr.Name = (*byte)(unsafe.Pointer(&h.names[i]))
			hd.Hdr.Namelen = unix.SizeofSockaddrInet6
		}
	}
	h.count, h.done, h.err = count, 0, nil
	return count
}

// unpackRead copies what the kernel reported for the first len(ms) headers
// into ms, control data included.
func (h *headers) unpackRead(ms []Message) {
	oob := h.oob
	for i := range ms {
		m, hd := &ms[i], &h.hdrs[i]
		m.N = int(hd.Len)
		m.NN = min(int(hd.Hdr.Controllen), len(m.OOB))
		copy(m.OOB, oob[:m.NN])
		oob = oob[len(m.OOB):]
		m.Flags = int(hd.Hdr.Flags)
		m.Addr = netip.AddrPort{}
		if hd.Hdr.Name != nil {
			m.Addr = sockaddrToAddrPort(&h.names[i], hd.Hdr.Namelen)
		}
	}
}

// cursor is how far packWrite got in a batch: ms[msg] from payload byte
// off, which is byte bo of its buffer bi.
type cursor struct{ msg, off, bi, bo int }

// packMode is how packWrite cuts the messages that carry UDP_SEGMENT.
type packMode struct {
	offload  bool // the kernel segments (UDP GSO)
	maxSegs  int  // the most segments of one GSO datagram
	splitMsg int  // the index of a message to split whatever offload says, or -1
	learning bool // maxSegs was lowered: tell the Conn once a datagram of it went through
}

// maxGSOBytes is the largest UDP payload one IP packet can carry, and so
// one GSO datagram: 65535 minus the IPv4 and UDP headers, or minus the UDP
// header for IPv6 (whose payload length leaves the fixed header out).
func maxGSOBytes(family int, dst netip.Addr) int {
	if family == familyIPv6 && dst.IsValid() && !dst.Is4In6() && !dst.Is4() {
		return 65535 - 8
	}
	return 65535 - 20 - 8
}

// packWrite packs the messages of ms from the cursor into at most
// MaxSendBatch headers, one datagram each, and moves the cursor past what
// it packed (possibly into a message, whose other datagrams come in the
// next call). A plain message is one datagram of all its buffers; a
// message with UDP_SEGMENT is cut into GSO datagrams of at most
// mode.maxSegs segments and maxGSOBytes bytes (one of a single segment
// goes plain, without UDP_SEGMENT), or, when mode says split,
// into one plain datagram per segment with the message's other control
// messages. Buffers are never copied. It returns the error for ms[cur.msg]
// when that message cannot be sent at all (too many buffers, an address
// of the wrong family); the headers before it are packed.
func (h *headers) packWrite(ms []Message, cur *cursor, family int, mode packMode) error {
	h.count, h.done, h.err = 0, 0, nil
	h.oob = h.oob[:0]
	return h.pack(ms, cur, family, mode)
}

func (h *headers) pack(ms []Message, cur *cursor, family int, mode packMode) error {
	k := 0 // iovecs used
	var peer lastPeer
	for cur.msg < len(ms) && h.count < MaxSendBatch {
		if cur.off == 0 {
			if err := h.packPlain(ms, cur, &k, family, &peer); err != nil {
				return err
			}
			if cur.msg == len(ms) || h.count == MaxSendBatch {
				return nil
			}
		}
		// ms[cur.msg] has UDP_SEGMENT.
		m := &ms[cur.msg]
		first := h.count
		h.grow(first+1, k+len(m.Buffers)+1)
		name, nameLen, err := h.putName(first, family, ms, cur.msg, &peer)
		if err != nil {
			return err
		}
		size, start, end, _ := segmentSize(m.OOB)
		total := buffersLen(m.Buffers)
		p := piece{msg: cur.msg, oob: int32(len(h.oob)), noob: int32(len(m.OOB)), len: total, name: int32(name), nameLen: nameLen}
		plain := int32(-1) // where the message's control data without UDP_SEGMENT is in h.oob
		if mode.offload && cur.msg != mode.splitMsg {
			h.oob = append(h.oob, m.OOB...)
			p.segs = int32(max(1, min(mode.maxSegs, maxGSOBytes(family, m.Addr.Addr())/size)))
			p.len = int(p.segs) * size
		} else {
			// One plain datagram per segment, without UDP_SEGMENT.
			p.len = size
			p.noob = int32(len(m.OOB) - (end - start))
			h.oob = append(append(h.oob, m.OOB[:start]...), m.OOB[end:]...)
		}
		for {
			if h.count == MaxSendBatch {
				return nil // the cursor stays inside the message
			}
			i := h.count
			if i > first {
				h.grow(i+1, k+len(m.Buffers)+1)
			}
			q := &h.pieces[i]
			*q = p
			q.off = cur.off
			q.len = min(p.len, total-cur.off)
			if q.segs > 0 {
				q.segs = int32((q.len + size - 1) / size)
				if q.segs <= 1 {
					// One datagram (or an empty one): sent plain,
					// without UDP_SEGMENT, as the kernel itself
					// sends it. Kernels without "udp: gso: do not
					// drop small packets when PMTU reduces" (2025;
					// 6.1 has it from 6.1.129, Debian 11's 5.10.223
					// has not) refuse it with EINVAL when its
					// segment size does not fit the path MTU, even
					// when its payload does.
					if plain < 0 {
						plain = int32(len(h.oob))
						h.oob = append(append(h.oob, m.OOB[:start]...), m.OOB[end:]...)
					}
					q.segs, q.oob, q.noob = 0, plain, int32(len(m.OOB)-(end-start))
				}
			}
			q.iov = int32(k)
			q.niov = int32(h.setIovecsFrom(k, m.Buffers, cur, q.len))
			k += int(q.niov)
			cur.off += q.len
			q.last = cur.off >= total
			h.setHeader(i)
			h.count++
			if q.last {
				*cur = cursor{msg: cur.msg + 1}
				break
			}
		}
	}
	return nil
}

// lastPeer is where the destination of the last message packed went:
// consecutive messages to one peer share one socket address. (It keeps
// the message's index, not its Addr: a copy of an Addr kept beyond the
// call would make escape analysis move the caller's Messages' Buffers
// slices to the heap.)
type lastPeer struct {
	msg     int // ms[msg].Addr is in names[name]; nameLen 0: none yet
	name    int
	nameLen uint32
}

// putName sets the socket address of header i for ms[msg].Addr, or finds
// it where the last message's went (peer), and returns its index in names
// and its length (0 for no destination).
func (h *headers) putName(i, family int, ms []Message, msg int, peer *lastPeer) (int, uint32, error) {
	ap := ms[msg].Addr
	switch {
	case !ap.IsValid():
		return i, 0, nil
	case peer.nameLen != 0 && ap == ms[peer.msg].Addr:
		return peer.name, peer.nameLen, nil
	}
	l, err := putSockaddr(&h.names[i], family, ap)
	if err != nil {
		return 0, 0, err
	}
	*peer = lastPeer{msg, i, l}
	return i, l, nil
}

// packPlain packs the messages of ms from cur.msg on that are plain
// datagrams (no UDP_SEGMENT), one header each, set in place, until a GSO
// message, MaxSendBatch headers or the end of ms. It returns the error of
// a message that cannot be sent, which it stops at. The hot loop of a
// WriteBatch: it keeps its state in locals.
func (h *headers) packPlain(ms []Message, cur *cursor, kp *int, family int, peer *lastPeer) error {
	count, msg, k := h.count, cur.msg, *kp
	var err error
	for ; msg < len(ms) && count < MaxSendBatch; msg++ {
		m := &ms[msg]
		if len(m.OOB) > 0 {
			if size, _, _, ok := segmentSize(m.OOB); ok && size > 0 {
				break
			}
		}
		if len(m.Buffers) > maxIovecs {
			err = unix.EMSGSIZE
			break
		}
		if count+1 > len(h.hdrs) || k+len(m.Buffers)+1 > len(h.iovs) {
			h.grow(count+1, k+len(m.Buffers)+1)
		}
		name, nameLen, perr := h.putName(count, family, ms, msg, peer)
		if perr != nil {
			err = perr
			break
		}
		// setIovecs(k, m.Buffers, 0, all), inlined: through the call,
		// packing 256 plain messages took 17-21 ns a message instead of
		// 15-18 (alternated runs).
		iovs := h.iovs[k:]
		niov := 0
		for _, b := range m.Buffers {
			if len(b) > 0 {
				iovs[niov].Base = &b[0]
				iovs[niov].SetLen(len(b))
				niov++
			}
		}
		if niov == 0 {
			iovs[0] = unix.Iovec{} // one empty iovec rather than none (qemu-user)
			niov = 1
		}
		hd := &h.hdrs[count]
		*hd = Mmsghdr{}
		hd.Hdr.Iov = &iovs[0]
		hd.Hdr.SetIovlen(niov)
		if nameLen != 0 {
			hd.Hdr.Name = (*byte)(unsafe.Pointer(&h.names[name]))
			hd.Hdr.Namelen = nameLen
		}
		p := &h.pieces[count] // what account needs
		p.msg, p.off, p.len, p.last, p.segs = msg, 0, 0, true, 0
		if len(m.OOB) > 0 {
			off := len(h.oob)
			h.oob = append(h.oob, m.OOB...)
			hd.Hdr.Control = &h.oob[off]
			hd.Hdr.SetControllen(len(m.OOB))
		}
		k += niov
		count++
	}
	h.count, cur.msg, *kp = count, msg, k
	return err
}

// setIovecsFrom is setIovecs from the cursor's buffer position, which it
// advances by n bytes: long messages cut into many datagrams are walked
// once, not once per datagram.
func (h *headers) setIovecsFrom(k int, bufs [][]byte, cur *cursor, n int) int {
	used := h.setIovecs(k, bufs[cur.bi:], cur.bo, n)
	for cur.bo += n; cur.bi < len(bufs) && cur.bo >= len(bufs[cur.bi]); {
		cur.bo -= len(bufs[cur.bi])
		cur.bi++
	}
	return used
}

// setHeader sets write header i from its piece: iovecs, name and control
// data, value-result fields included.
func (h *headers) setHeader(i int) {
	p, hd := &h.pieces[i], &h.hdrs[i]
	*hd = Mmsghdr{}
	hd.Hdr.Iov = &h.iovs[p.iov]
	hd.Hdr.SetIovlen(int(p.niov))
	if p.nameLen != 0 {
		hd.Hdr.Name = (*byte)(unsafe.Pointer(&h.names[p.name]))
		hd.Hdr.Namelen = p.nameLen
	}
	if p.noob > 0 {
		hd.Hdr.Control = &h.oob[p.oob]
		hd.Hdr.SetControllen(int(p.noob))
	}
}
