//go:build linux || freebsd

package mmsg

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The packing of WriteBatch (headers.go), without sockets: what each
// kernel header would send.

// packed is what the kernel would see for header i: the bytes its iovecs
// gather, its destination and its control data.
type packed struct {
	data []byte
	dst  netip.AddrPort
	oob  []byte
}

func packedHeaders(h *headers) []packed {
	out := make([]packed, h.count)
	for i := range h.count {
		hd := &h.hdrs[i].Hdr
		var p packed
		for _, v := range unsafe.Slice(hd.Iov, int(hd.Iovlen)) {
			if v.Len > 0 {
				p.data = append(p.data, unsafe.Slice(v.Base, int(v.Len))...)
			}
		}
		if hd.Name != nil {
			p.dst = sockaddrToAddrPort((*unix.RawSockaddrInet6)(unsafe.Pointer(hd.Name)), hd.Namelen)
		}
		if hd.Control != nil {
			p.oob = bytes.Clone(unsafe.Slice(hd.Control, int(hd.Controllen)))
		}
		out[i] = p
	}
	return out
}

func TestPackWritePlain(t *testing.T) {
	dst := netip.MustParseAddrPort("127.0.0.1:9")
	other := netip.MustParseAddrPort("127.0.0.2:9")
	tos := AppendIPv4TOS(nil, ECNECT1)
	ms := []Message{
		{Buffers: [][]byte{[]byte("ab"), nil, []byte("cd")}, Addr: dst},
		{Buffers: nil, Addr: dst}, // an empty datagram
		{Buffers: [][]byte{[]byte("x")}, OOB: tos, Addr: other},
		{Buffers: [][]byte{[]byte("y")}}, // no destination (connected)
	}
	h := getHeaders(0)
	defer h.put()
	var cur cursor
	if err := h.packWrite(ms, &cur, familyIPv4, packMode{offload: true, maxSegs: 128, splitMsg: -1}); err != nil {
		t.Fatal(err)
	}
	if h.count != 4 || cur.msg != 4 {
		t.Fatalf("packed %d headers, cursor at %d; want 4, 4", h.count, cur.msg)
	}
	want := []packed{{[]byte("abcd"), dst, nil}, {nil, dst, nil}, {[]byte("x"), other, tos}, {[]byte("y"), netip.AddrPort{}, nil}}
	for i, p := range packedHeaders(h) {
		if !bytes.Equal(p.data, want[i].data) || p.dst != want[i].dst || !bytes.Equal(p.oob, want[i].oob) {
			t.Errorf("header %d: %q to %v oob %x; want %q to %v oob %x", i, p.data, p.dst, p.oob, want[i].data, want[i].dst, want[i].oob)
		}
		if pc := h.pieces[i]; pc.msg != i || !pc.last || pc.off != 0 || pc.segs != 0 {
			t.Errorf("piece %d: %+v", i, pc)
		}
	}
	if h.hdrs[0].Hdr.Name != h.hdrs[1].Hdr.Name {
		t.Error("consecutive messages to one peer do not share their socket address")
	}
	if h.hdrs[1].Hdr.Iovlen != 1 {
		t.Errorf("empty datagram: %d iovecs, want one empty one", h.hdrs[1].Hdr.Iovlen)
	}
}

func TestPackWriteErrors(t *testing.T) {
	dst := netip.MustParseAddrPort("127.0.0.1:9")
	for _, tc := range []struct {
		name string
		bad  Message
		want error
	}{
		{"too many buffers", Message{Buffers: make([][]byte, maxIovecs+1), Addr: dst}, unix.EMSGSIZE},
		{"IPv6 destination on IPv4", Message{Buffers: [][]byte{[]byte("x")}, Addr: netip.MustParseAddrPort("[::1]:9")}, unix.EAFNOSUPPORT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := []Message{{Buffers: [][]byte{[]byte("ok")}, Addr: dst}, tc.bad, {Buffers: [][]byte{[]byte("after")}, Addr: dst}}
			h := getHeaders(0)
			defer h.put()
			var cur cursor
			err := h.packWrite(ms, &cur, familyIPv4, packMode{offload: true, maxSegs: 128, splitMsg: -1})
			if !errors.Is(err, tc.want) || h.count != 1 || cur.msg != 1 {
				t.Fatalf("packWrite = %v with %d headers, cursor at %d; want %v, 1, 1", err, h.count, cur.msg, tc.want)
			}
		})
	}
}

// gsoMessage is a message of n bytes (byte i is i%251) in buffers of the
// given sizes (the last takes the rest), cut into size-byte segments.
func gsoMessage(n, size int, bufs ...int) (Message, []byte) {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i % 251)
	}
	m := Message{OOB: AppendIPv4TOS(AppendSegmentSize(nil, uint16(size)), ECNECT0), Addr: netip.MustParseAddrPort("127.0.0.1:9")}
	rest := payload
	for _, b := range bufs {
		b = min(b, len(rest))
		m.Buffers = append(m.Buffers, rest[:b])
		rest = rest[b:]
	}
	m.Buffers = append(m.Buffers, rest)
	return m, payload
}

func TestPackWriteGSO(t *testing.T) {
	tosOnly := AppendIPv4TOS(nil, ECNECT0)
	for _, tc := range []struct {
		name         string
		n, size      int
		bufs         []int
		mode         packMode
		wantLens     []int // datagram lengths, in order
		wantSegs     []int32
		wantUDPSeg   bool // the control data keeps UDP_SEGMENT
		wantHeaders1 int  // headers of the first packWrite (MaxSendBatch bound)
	}{
		{"offload, one GSO datagram", 3500, 1200, []int{100, 2000}, packMode{offload: true, maxSegs: 128, splitMsg: -1},
			[]int{3500}, []int32{3}, true, 1},
		{"offload, cut at MaxSegments", 10*1000 + 1, 1000, nil, packMode{offload: true, maxSegs: 4, splitMsg: -1},
			[]int{4000, 4000, 2001}, []int32{4, 4, 3}, true, 3},
		{"offload, cut at 65507 bytes", 100 * 1000, 1000, []int{30000}, packMode{offload: true, maxSegs: 128, splitMsg: -1},
			[]int{65000, 35000}, []int32{65, 35}, true, 2},
		{"offload, cut at a cap of 64 (SetMaxSegments)", 128 * 500, 500, nil, packMode{offload: true, maxSegs: 64, splitMsg: -1},
			[]int{32000, 32000}, []int32{64, 64}, true, 2},
		{"offload, cut at a cap of 50, short last segment", 127*500 + 1, 500, []int{1000, 1000}, packMode{offload: true, maxSegs: 50, splitMsg: -1},
			[]int{25000, 25000, 13501}, []int32{50, 50, 28}, true, 3},
		{"split", 2500, 1000, []int{999, 2}, packMode{offload: false, maxSegs: 128, splitMsg: -1},
			[]int{1000, 1000, 500}, []int32{0, 0, 0}, false, 3},
		{"split this message only", 2500, 1000, nil, packMode{offload: true, maxSegs: 128, splitMsg: 0},
			[]int{1000, 1000, 500}, []int32{0, 0, 0}, false, 3},
		{"split across two sendmmsg calls", 1500, 1, nil, packMode{offload: false, maxSegs: 128, splitMsg: -1},
			nil, nil, false, MaxSendBatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, payload := gsoMessage(tc.n, tc.size, tc.bufs...)
			ms := []Message{m}
			h := getHeaders(0)
			defer h.put()
			var cur cursor
			var got []byte
			var lens []int
			var segs []int32
			for round := 0; cur.msg < len(ms); round++ {
				if err := h.packWrite(ms, &cur, familyIPv4, tc.mode); err != nil {
					t.Fatal(err)
				}
				if round == 0 && h.count != tc.wantHeaders1 {
					t.Errorf("first packWrite: %d headers, want %d", h.count, tc.wantHeaders1)
				}
				for i, p := range packedHeaders(h) {
					got = append(got, p.data...)
					lens = append(lens, len(p.data))
					segs = append(segs, h.pieces[i].segs)
					if _, _, _, ok := segmentSize(p.oob); ok != tc.wantUDPSeg {
						t.Fatalf("header %d: UDP_SEGMENT present %v, want %v", i, ok, tc.wantUDPSeg)
					}
					if !tc.wantUDPSeg && !bytes.Equal(p.oob, tosOnly) {
						t.Fatalf("header %d: control data %x, want the message's other one %x", i, p.oob, tosOnly)
					}
				}
				if round > 1 {
					t.Fatal("more than two rounds")
				}
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("the datagrams carry %d bytes, not the %d of the message in order", len(got), len(payload))
			}
			if tc.wantLens != nil && (!equalInts(lens, tc.wantLens) || !equalInt32s(segs, tc.wantSegs)) {
				t.Errorf("datagrams %v with segments %v; want %v, %v", lens, segs, tc.wantLens, tc.wantSegs)
			}
			if tc.wantLens == nil && len(lens) != tc.n {
				t.Errorf("%d datagrams, want %d", len(lens), tc.n)
			}
		})
	}
}

// TestPackWriteGrows: packing into fresh (small) arrays that grow while
// packing keeps every header pointing at what it was given.
func TestPackWriteGrows(t *testing.T) {
	var ms []Message
	var want [][]byte
	for i := range 300 {
		p := []byte{byte(i), byte(i >> 8)}
		m := Message{Buffers: [][]byte{p[:1], p[1:]}, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + i%3)}), 9)}
		if i%7 == 0 {
			m.OOB = AppendIPv4TOS(nil, byte(i))
		}
		ms = append(ms, m)
		want = append(want, p)
	}
	h := new(headers) // nothing allocated yet
	var cur cursor
	if err := h.packWrite(ms, &cur, familyIPv4, packMode{offload: true, maxSegs: 128, splitMsg: -1}); err != nil || cap(h.hdrs) < len(ms) {
		t.Fatalf("packWrite = %v, %d headers of room", err, cap(h.hdrs))
	}
	for i, p := range packedHeaders(h) {
		if !bytes.Equal(p.data, want[i]) || p.dst != ms[i].Addr || !bytes.Equal(p.oob, ms[i].OOB) {
			t.Fatalf("header %d: %x to %v oob %x; want %x to %v oob %x", i, p.data, p.dst, p.oob, want[i], ms[i].Addr, ms[i].OOB)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalInt32s(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPackWriteOneSegment: with GSO on, a datagram of one segment (a
// message that fits in one, or the tail or every piece of a longer one)
// is packed as a plain datagram, with the message's other control data
// and without UDP_SEGMENT, which old kernels would refuse for a segment
// size above the path MTU; one of several segments keeps it.
func TestPackWriteOneSegment(t *testing.T) {
	tosOnly := AppendIPv4TOS(nil, ECNECT0)
	for _, tc := range []struct {
		name     string
		n, size  int
		maxSegs  int
		wantLens []int
		wantSegs []int32
	}{
		{"shorter than its segment", 700, 1200, 128, []int{700}, []int32{0}},
		{"exactly one segment", 1200, 1200, 128, []int{1200}, []int32{0}},
		{"empty", 0, 1200, 128, []int{0}, []int32{0}},
		{"a one-segment tail", 4001, 1000, 4, []int{4000, 1}, []int32{4, 0}},
		{"a two-segment tail", 5001, 1000, 4, []int{4000, 1001}, []int32{4, 2}},
		{"segments too large to pair", 100000, 40000, 128, []int{40000, 40000, 20000}, []int32{0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, payload := gsoMessage(tc.n, tc.size, 10)
			h := packGSO(t, m, tc.maxSegs)
			var got []byte
			var lens []int
			var segs []int32
			for i, p := range packedHeaders(h) {
				got = append(got, p.data...)
				lens = append(lens, len(p.data))
				segs = append(segs, h.pieces[i].segs)
				size, _, _, ok := segmentSize(p.oob)
				if gso := h.pieces[i].segs > 0; ok != gso || gso && size != tc.size {
					t.Errorf("header %d (%d segments): UDP_SEGMENT present %v, size %d", i, h.pieces[i].segs, ok, size)
				}
				if !ok && !bytes.Equal(p.oob, tosOnly) {
					t.Errorf("header %d: control data %x, want the message's other one %x", i, p.oob, tosOnly)
				}
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("the datagrams carry %d bytes, not the %d of the message in order", len(got), len(payload))
			}
			if !equalInts(lens, tc.wantLens) || !equalInt32s(segs, tc.wantSegs) {
				t.Errorf("datagrams %v with segments %v; want %v, %v", lens, segs, tc.wantLens, tc.wantSegs)
			}
		})
	}
}

// TestPackWriteJoinsAdjacent: buffers of a GSO message that follow one
// another in memory share one iovec, cut where the datagrams are cut;
// buffers apart, empty or out of order keep their own. The datagrams
// carry the same bytes either way.
func TestPackWriteJoinsAdjacent(t *testing.T) {
	const size = 100
	arena := make([]byte, 40*size+10)
	for i := range arena {
		arena[i] = byte(i % 251)
	}
	pkt := func(off int) []byte { return arena[off : off+size : off+size] }
	packets := func(offs ...int) [][]byte {
		var bufs [][]byte
		for _, o := range offs {
			bufs = append(bufs, pkt(o))
		}
		return bufs
	}
	seq := func(from, n int) []int {
		var offs []int
		for i := range n {
			offs = append(offs, (from+i)*size)
		}
		return offs
	}
	for _, tc := range []struct {
		name     string
		bufs     [][]byte
		maxSegs  int
		wantIovs []int // iovecs per datagram
	}{
		{"back to back: one iovec", packets(seq(0, 10)...), 128, []int{1}},
		{"back to back, cut at 4 segments", packets(seq(0, 10)...), 4, []int{1, 1, 1}},
		{"a gap of one byte", packets(0, size, 2*size+1, 3*size+1), 128, []int{2}},
		{"out of order", packets(size, 0, 2*size), 128, []int{3}},
		{"empty buffers between", append(append(packets(0), arena[size:size], nil), packets(size, 2*size)...), 128, []int{1}},
		{"separate arrays", [][]byte{bytes.Clone(pkt(0)), bytes.Clone(pkt(size)), pkt(2 * size), pkt(3 * size)}, 128, []int{3}},
		{"buffers cut across datagrams", [][]byte{arena[0:150], arena[150:350], arena[350:1000]}, 3, []int{1, 1, 1, 1}},
		{"apart, cut across datagrams", [][]byte{bytes.Clone(arena[0:150]), arena[150:350], arena[351:1001]}, 3, []int{2, 2, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Message{Buffers: tc.bufs, OOB: AppendSegmentSize(nil, size), Addr: netip.MustParseAddrPort("127.0.0.1:9")}
			var payload []byte
			for _, b := range tc.bufs {
				payload = append(payload, b...)
			}
			h := packGSO(t, m, tc.maxSegs)
			var got []byte
			var iovs []int
			for i, p := range packedHeaders(h) {
				got = append(got, p.data...)
				iovs = append(iovs, int(h.hdrs[i].Hdr.Iovlen))
				if len(p.data) > tc.maxSegs*size || int(h.pieces[i].niov) != iovs[i] {
					t.Fatalf("datagram %d: %d bytes in %d iovecs (piece says %d)", i, len(p.data), iovs[i], h.pieces[i].niov)
				}
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("the datagrams carry %d bytes, not the %d of the message in order", len(got), len(payload))
			}
			if !equalInts(iovs, tc.wantIovs) {
				t.Errorf("iovecs per datagram %v, want %v", iovs, tc.wantIovs)
			}
		})
	}
}

// packGSO packs the one message m with GSO on and at most maxSegs segments
// per datagram, in one packWrite; the headers go back to the pool when the
// test ends.
func packGSO(t *testing.T, m Message, maxSegs int) *headers {
	t.Helper()
	h := getHeaders(0)
	t.Cleanup(h.put)
	var cur cursor
	if err := h.packWrite([]Message{m}, &cur, familyIPv4, packMode{offload: true, maxSegs: maxSegs, splitMsg: -1}); err != nil || cur.msg != 1 {
		t.Fatalf("packWrite = %v, cursor at message %d", err, cur.msg)
	}
	return h
}
