//go:build linux || freebsd

package mmsg

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestCmsgLayout checks the package's cmsghdr constants against x/sys.
func TestCmsgLayout(t *testing.T) {
	if cmsgDataOff != unix.CmsgLen(0) {
		t.Errorf("cmsgDataOff = %d, unix.CmsgLen(0) = %d", cmsgDataOff, unix.CmsgLen(0))
	}
	for n := range 70 {
		if got, want := cmsgSpace(n), unix.CmsgSpace(n); got != want {
			t.Errorf("cmsgSpace(%d) = %d, unix.CmsgSpace = %d", n, got, want)
		}
	}
	var h unix.Cmsghdr
	if cmsgLenSize != int(unsafe.Sizeof(h.Len)) || cmsgHdrLen != int(unsafe.Sizeof(h)) {
		t.Errorf("cmsghdr sizes: len %d hdr %d", cmsgLenSize, cmsgHdrLen)
	}
}

// refCmsg builds one control message the x/sys way, through *unix.Cmsghdr.
func refCmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data))+8)[:unix.CmsgSpace(len(data))]
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func nativeUint32(v uint32) []byte { return ne.AppendUint32(nil, v) }

func TestAppendBuilders(t *testing.T) {
	ipTOS := []byte{0xb9}
	if runtime.GOOS == "linux" {
		ipTOS = nativeUint32(0xb9) // Linux takes an int, FreeBSD only a u_char
	}
	in6 := func(a netip.Addr, ifIndex uint32) []byte {
		b := a.As16()
		return append(b[:], nativeUint32(ifIndex)...)
	}
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"SegmentSize", AppendSegmentSize(nil, 1200), refCmsg(unix.IPPROTO_UDP, udpSegment, ne.AppendUint16(nil, 1200))},
		{"TOS/4", AppendTOS(nil, netip.MustParseAddr("192.0.2.1"), 0xb9), refCmsg(unix.IPPROTO_IP, unix.IP_TOS, ipTOS)},
		{"TOS/4in6", AppendTOS(nil, netip.MustParseAddr("::ffff:192.0.2.1"), 0xb9), refCmsg(unix.IPPROTO_IP, unix.IP_TOS, ipTOS)},
		{"TOS/6", AppendTOS(nil, netip.MustParseAddr("2001:db8::1"), 0xb9), refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, nativeUint32(0xb9))},
		{"IPv4TOS", AppendIPv4TOS(nil, 0xb9), refCmsg(unix.IPPROTO_IP, unix.IP_TOS, ipTOS)},
		{"IPv6TrafficClass", AppendIPv6TrafficClass(nil, 0xb9), refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, nativeUint32(0xb9))},
		{"PacketInfo/6", AppendPacketInfo(nil, netip.MustParseAddr("2001:db8::2"), 7),
			refCmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, in6(netip.MustParseAddr("2001:db8::2"), 7))},
		{"PacketInfo/zero", AppendPacketInfo(nil, netip.Addr{}, 7), nil},
		{"Chain", AppendTOS(AppendSegmentSize(nil, 9), netip.MustParseAddr("2001:db8::1"), 1),
			append(refCmsg(unix.IPPROTO_UDP, udpSegment, ne.AppendUint16(nil, 9)), refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, nativeUint32(1))...)},
		// An unaligned start is padded first.
		{"Unaligned", AppendTOS([]byte{0xee}, netip.MustParseAddr("2001:db8::1"), 1),
			append(append([]byte{0xee}, make([]byte, cmsgAlignTo-1)...), refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, nativeUint32(1))...)},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s:\n got %x\nwant %x", tt.name, tt.got, tt.want)
		}
	}
	// The IPv4 packet info differs per OS.
	want4 := refCmsg(unix.IPPROTO_IP, ipv4SrcType, []byte{127, 0, 0, 2})
	if runtime.GOOS == "linux" {
		want4 = refCmsg(unix.IPPROTO_IP, ipv4SrcType, append(nativeUint32(1), 127, 0, 0, 2, 0, 0, 0, 0))
	}
	if got := AppendPacketInfo(nil, netip.MustParseAddr("127.0.0.2"), 1); !bytes.Equal(got, want4) {
		t.Errorf("IPv4 packet info:\n got %x\nwant %x", got, want4)
	}
	if size, _, _, ok := segmentSize(AppendTOS(AppendSegmentSize(nil, 1200), netip.IPv4Unspecified(), 0)); !ok || size != 1200 {
		t.Errorf("segmentSize = %d, %v", size, ok)
	}
}

func TestBuildersAllocs(t *testing.T) {
	buf := make([]byte, 0, MaxOOBSize)
	dst4, dst6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendSegmentSize(buf[:0], 1200)
		b = AppendTOS(b, dst4, ECNECT0)
		b = AppendTOS(b, dst6, ECNCE)
		b = AppendPacketInfo(b, dst4, 1)
		b = AppendPacketInfo(b, dst6, 1)
		if len(b) > MaxOOBSize {
			panic("too long")
		}
	})
	if allocs != 0 {
		t.Errorf("builders: %v allocations, want 0", allocs)
	}
}

// TestParseControl decodes well-formed control data built per OS.
func TestParseControl(t *testing.T) {
	var oob []byte
	oob = append(oob, refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, nativeUint32(0x2e))...)
	oob = append(oob, refCmsg(0x7fff, 1, []byte("unknown, skipped"))...)
	pkt := netip.MustParseAddr("2001:db8::9").As16()
	oob = append(oob, refCmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(pkt[:], nativeUint32(3)...))...)
	var c Control
	if err := ParseControl(oob, &c); err != nil {
		t.Fatal(err)
	}
	want := Control{TOS: 0x2e, HasTOS: true, Dst: netip.MustParseAddr("2001:db8::9"), ReplySrc: netip.MustParseAddr("2001:db8::9"), IfIndex: 3}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if c.ECN() != ECNECT0 {
		t.Errorf("ECN() = %d", c.ECN())
	}
	// The last message may lack its padding (the kernel's last one
	// does when the buffer ends there).
	short := refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, nativeUint32(1))[:unix.CmsgLen(4)]
	if err := ParseControl(short, &c); err != nil || !c.HasTOS || c.TOS != 1 {
		t.Errorf("unpadded: %+v, %v", c, err)
	}
	// ParseControl resets c.
	if err := ParseControl(nil, &c); err != nil || !reflect.DeepEqual(c, Control{}) {
		t.Errorf("empty: %+v, %v", c, err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := ParseControl(oob, &c); err != nil {
			panic(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseControl: %v allocations, want 0", allocs)
	}
}

func TestParseControlMalformed(t *testing.T) {
	good := refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, nativeUint32(1))
	setLen := func(b []byte, l int) []byte {
		b = bytes.Clone(b)
		(*unix.Cmsghdr)(unsafe.Pointer(&b[0])).SetLen(l)
		return b
	}
	tests := []struct {
		name   string
		oob    []byte
		reason string
		offset int
	}{
		{"header cut", good[:cmsgHdrLen-1], "header cut short", 0},
		{"second header cut", append(bytes.Clone(good), 1, 2, 3), "header cut short", len(good)},
		{"len 0", setLen(good, 0), "cmsg_len shorter than the header", 0},
		{"len below header", setLen(good, cmsgHdrLen-1), "cmsg_len shorter than the header", 0},
		{"len past buffer", setLen(good, len(good)+1), "cmsg_len past the end of the buffer", 0},
		{"len huge", setLen(good, 1<<31-1), "cmsg_len past the end of the buffer", 0},
		{"tclass short", refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, []byte{1, 2}), reasonSize, 0},
		{"pktinfo short", append(bytes.Clone(good), refCmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, make([]byte, 19))...), reasonSize, len(good)},
	}
	for _, tt := range tests {
		var c Control
		err := ParseControl(tt.oob, &c)
		var ce *ControlError
		if !errors.Is(err, ErrMalformedControl) || !errors.As(err, &ce) || ce.Reason != tt.reason || ce.Offset != tt.offset {
			t.Errorf("%s: %v, want %q at %d", tt.name, err, tt.reason, tt.offset)
			continue
		}
		if ce.Level == -1 {
			continue
		}
		if ce.Level != unix.IPPROTO_IPV6 {
			t.Errorf("%s: level %d", tt.name, ce.Level)
		}
		t.Logf("%s: %v", tt.name, err)
	}
}

func TestMessageControlTruncated(t *testing.T) {
	m := Message{OOB: refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, nativeUint32(3))}
	m.NN = len(m.OOB)
	m.Flags = unix.MSG_CTRUNC
	var c Control
	if err := m.Control(&c); err != ErrControlTruncated || c.TOS != 3 {
		t.Errorf("MSG_CTRUNC: %v, %+v", err, c)
	}
	m.Flags = 0
	m.NN = 1000 // past OOB: clipped
	if err := m.Control(&c); err != nil || c.TOS != 3 {
		t.Errorf("NN past OOB: %v, %+v", err, c)
	}
	m.NN = -1
	if err := m.Control(&c); err != nil || c.HasTOS {
		t.Errorf("NN < 0: %v, %+v", err, c)
	}
}

// TestControlTruncatedNoMadeUpFields: under MSG_CTRUNC, the fields of the
// control messages that arrived whole are kept, and none comes from the
// cut one, whichever way the kernel cut it: Linux's put_cmsg shortens the
// last message's cmsg_len to what fits (a 16-byte timestamp arrives as 8
// bytes), a 4.4BSD-style copy leaves a cmsg_len past the end.
func TestControlTruncatedNoMadeUpFields(t *testing.T) {
	tclass := refCmsg(unix.IPPROTO_IPV6, unix.IPV6_TCLASS, nativeUint32(0x2e))
	for _, ts := range timestampTypes() {
		whole := refCmsg(unix.SOL_SOCKET, int32(ts.typ), make([]byte, ts.size))
		// Cut to half its payload, as Linux does: cmsg_len = what fits.
		cut := refCmsg(unix.SOL_SOCKET, int32(ts.typ), bytes.Repeat([]byte{0x11}, ts.size/2))[:unix.CmsgLen(ts.size/2)]
		// Cut with its real cmsg_len: past the end of the buffer.
		past := whole[:unix.CmsgLen(ts.size/2)]
		for _, tail := range [][]byte{cut, past} {
			m := Message{OOB: append(bytes.Clone(tclass), tail...), Flags: unix.MSG_CTRUNC}
			m.NN = len(m.OOB)
			var c Control
			if err := m.Control(&c); err != ErrControlTruncated {
				t.Errorf("%s cut to %d bytes: Control = %v, want ErrControlTruncated", ts.name, len(tail), err)
			}
			if !c.Timestamp.IsZero() {
				t.Errorf("%s cut to %d bytes: made-up timestamp %v", ts.name, len(tail), c.Timestamp)
			}
			if !c.HasTOS || c.TOS != 0x2e {
				t.Errorf("%s cut: the whole IPV6_TCLASS before it was lost: %+v", ts.name, c)
			}
			// Without MSG_CTRUNC the same bytes are malformed.
			m.Flags = 0
			if err := m.Control(&c); !errors.Is(err, ErrMalformedControl) || !c.Timestamp.IsZero() {
				t.Errorf("%s cut, no MSG_CTRUNC: %v, %v", ts.name, err, c.Timestamp)
			}
		}
	}
}

// cmsgCase is a control message type this OS sends, with the size its
// payload has on this OS and ABI, worked out here from the kernel's
// declarations independently of the package's tables; or sizeSockaddrDL
// for a payload whose size the payload itself gives.
type cmsgCase struct {
	name       string
	level, typ int
	size       int
	filled     func(*Control) bool // whether a field was set
}

// sizeSockaddrDL as a cmsgCase size marks a struct sockaddr_dl payload
// (FreeBSD's IP_RECVIF): sdl_len bytes, at least its sdlFixedPart. It is
// negative so that it can never equal a payload size: on i386 FreeBSD a
// struct timeval is also 8 bytes.
const (
	sizeSockaddrDL = -1
	sdlFixedPart   = 8 // offsetof(struct sockaddr_dl, sdl_data)
)

func hasTimestamp(c *Control) bool { return !c.Timestamp.IsZero() }

func timestampTypes() []cmsgCase {
	var out []cmsgCase
	for _, k := range knownCmsgs() {
		if k.level == unix.SOL_SOCKET && k.typ != rxqOvflType {
			out = append(out, k)
		}
	}
	return out
}

// TestParseControlSizes is the audit of issue 8: every control message
// type the parser knows fills its field only from a payload of its exact
// size on this ABI; any other size is malformed and fills nothing. It
// runs on every architecture of the CI (32- and 64-bit, big-endian).
func TestParseControlSizes(t *testing.T) {
	known := knownCmsgs()
	if len(known) != len(cmsgTypes) {
		t.Errorf("the test knows %d types, the parser %d", len(known), len(cmsgTypes))
	}
	for _, k := range known {
		for n := 0; n <= 40; n++ {
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = byte(0x41 + i) // non-zero everywhere
			}
			sdl := k.size == sizeSockaddrDL
			if sdl && n >= sdlFixedPart {
				// A consistent sockaddr_dl: sdl_len = n, AF_LINK.
				payload[0], payload[1], payload[5], payload[6], payload[7] = byte(n), byte(afLink), 0, 0, 0
			}
			var c Control
			err := ParseControl(refCmsg(int32(k.level), int32(k.typ), payload), &c)
			ok := n == k.size || (sdl && n >= sdlFixedPart)
			if ok {
				if err != nil || !k.filled(&c) {
					t.Errorf("%s with %d bytes (its size): %v, %+v", k.name, n, err, c)
				}
				continue
			}
			size := fmt.Sprint(k.size)
			if sdl {
				size = fmt.Sprintf("at least %d", sdlFixedPart)
			}
			var ce *ControlError
			if !errors.As(err, &ce) || ce.Reason != reasonSize {
				t.Errorf("%s with %d bytes (size %s): err = %v, want %q", k.name, n, size, err, reasonSize)
			}
			if c != (Control{}) {
				t.Errorf("%s with %d bytes (size %s): fields filled from a malformed message: %+v", k.name, n, size, c)
			}
		}
	}
}

// TestParseControlReplySrc: what a sticky-source reply needs, from
// crafted packet info.
func TestParseControlReplySrc(t *testing.T) {
	ip := netip.MustParseAddr
	tests := []struct {
		name          string
		oob           []byte
		dst, replySrc netip.Addr
	}{
		{"IPv6 unicast", pktinfo6(ip("2001:db8::1"), 2), ip("2001:db8::1"), ip("2001:db8::1")},
		{"IPv6 multicast", pktinfo6(ip("ff02::1"), 2), ip("ff02::1"), netip.Addr{}},
		{"v4-mapped unicast", pktinfo6(ip("::ffff:192.0.2.1"), 2), ip("::ffff:192.0.2.1"), ip("::ffff:192.0.2.1")},
		{"v4-mapped broadcast", pktinfo6(ip("::ffff:255.255.255.255"), 2), ip("::ffff:255.255.255.255"), netip.Addr{}},
		{"v4-mapped multicast", pktinfo6(ip("::ffff:224.0.0.251"), 2), ip("::ffff:224.0.0.251"), netip.Addr{}},
	}
	tests = append(tests, replySrcCases()...)
	for _, tt := range tests {
		var c Control
		if err := ParseControl(tt.oob, &c); err != nil || c.Dst != tt.dst || c.ReplySrc != tt.replySrc {
			t.Errorf("%s: Dst %v, ReplySrc %v (%v); want %v, %v", tt.name, c.Dst, c.ReplySrc, err, tt.dst, tt.replySrc)
		}
	}
}

func pktinfo6(a netip.Addr, ifIndex uint32) []byte {
	b := a.As16()
	return refCmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(b[:], nativeUint32(ifIndex)...))
}

// TestSegmentSizeWalker: segmentSize finds UDP_SEGMENT among other
// messages with the one walker, and gives up on malformed data.
func TestSegmentSizeWalker(t *testing.T) {
	oob := AppendIPv6TrafficClass(AppendIPv4TOS(nil, 1), 2)
	mid := len(oob)
	oob = AppendSegmentSize(oob, 1200)
	oob = AppendPacketInfo(oob, netip.MustParseAddr("::1"), 1)
	size, start, end, ok := segmentSize(oob)
	if !ok || size != 1200 || start != mid || end != mid+cmsgSpace(2) {
		t.Errorf("segmentSize = %d [%d, %d) %v; want 1200 [%d, %d)", size, start, end, ok, mid, mid+cmsgSpace(2))
	}
	if _, _, _, ok := segmentSize(oob[:mid+cmsgHdrLen]); ok {
		t.Error("segmentSize accepted a cut UDP_SEGMENT")
	}
	if _, _, _, ok := segmentSize(AppendIPv4TOS(nil, 1)); ok {
		t.Error("segmentSize found a UDP_SEGMENT where there is none")
	}
}

func TestSegments(t *testing.T) {
	buf := []byte("0123456789")
	tests := []struct {
		size int
		want []string
	}{
		{3, []string{"012", "345", "678", "9"}},
		{5, []string{"01234", "56789"}},
		{10, []string{"0123456789"}},
		{11, []string{"0123456789"}},
		{0, []string{"0123456789"}},
		{-1, []string{"0123456789"}},
		{1, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}},
	}
	for _, tt := range tests {
		var got []string
		for seg := range Segments(buf, tt.size) {
			if cap(seg) != len(seg) {
				t.Errorf("size %d: segment %q has capacity %d", tt.size, seg, cap(seg))
			}
			got = append(got, string(seg))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Segments(%q, %d) = %q, want %q", buf, tt.size, got, tt.want)
		}
	}
	for range Segments(nil, 3) {
		t.Error("empty buffer yielded a segment")
	}
	for seg := range Segments(buf, 3) {
		if string(seg) != "012" {
			t.Errorf("first segment %q", seg)
		}
		break
	}
	sum := 0
	allocs := testing.AllocsPerRun(100, func() {
		for seg := range Segments(buf, 3) {
			sum += len(seg)
		}
		for rest := buf; len(rest) > 0; {
			var seg []byte
			seg, rest = NextSegment(rest, 4)
			sum += len(seg)
		}
	})
	if allocs != 0 {
		t.Errorf("Segments, NextSegment: %v allocations, want 0", allocs)
	}
}

func TestNewMessages(t *testing.T) {
	ms := NewMessages(3, 10, 4)
	for i, m := range ms {
		if len(m.Buffers) != 1 || len(m.Buffers[0]) != 10 || cap(m.Buffers[0]) != 10 || len(m.OOB) != 4 || cap(m.OOB) != 4 {
			t.Fatalf("message %d: %d buffers, %d/%d, OOB %d/%d", i, len(m.Buffers), len(m.Buffers[0]), cap(m.Buffers[0]), len(m.OOB), cap(m.OOB))
		}
	}
	ms[0].Buffers = append(ms[0].Buffers, nil)
	if len(ms[1].Buffers) != 1 {
		t.Error("appending to one message's Buffers changed another")
	}
	if NewMessages(2, 5, 0)[1].OOB != nil {
		t.Error("OOB with oobSize 0")
	}
}

// FuzzParseControl feeds arbitrary bytes to ParseControl. It must not
// panic, must reset its output, and must agree with x/sys's parser: what
// ParseControl accepts, unix.ParseSocketControlMessage splits into the
// same messages, whose canonical re-encoding parses to the same Control.
// The seed corpus in testdata/fuzz/FuzzParseControl holds control data
// captured from the kernel (TestCaptureControlCorpus).
func FuzzParseControl(f *testing.F) {
	f.Add(AppendSegmentSize(nil, 1200))
	f.Add(AppendTOS(AppendPacketInfo(nil, netip.MustParseAddr("2001:db8::1"), 1), netip.MustParseAddr("::1"), ECNCE))
	f.Add(refCmsg(unix.IPPROTO_IP, 1, []byte{3}))
	f.Add(AppendIPv6TrafficClass(AppendIPv4TOS(nil, ECNECT1), ECNCE))
	for _, k := range knownCmsgs() {
		// Each known type at its size, and cut to half of it.
		f.Add(refCmsg(int32(k.level), int32(k.typ), make([]byte, max(k.size, 8))))
		f.Add(refCmsg(int32(k.level), int32(k.typ), make([]byte, max(k.size, 8)/2))[:unix.CmsgLen(max(k.size, 8)/2)])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, oob []byte) {
		c := Control{SegmentSize: -5, Dst: netip.IPv6Loopback()}
		err := ParseControl(oob, &c)
		if err != nil {
			var ce *ControlError
			if !errors.As(err, &ce) || !errors.Is(err, ErrMalformedControl) || ce.Offset < 0 || ce.Offset >= len(oob) {
				t.Fatalf("error %v", err)
			}
			_ = err.Error()
			return
		}
		msgs, xerr := unix.ParseSocketControlMessage(oob)
		if xerr != nil {
			t.Fatalf("ParseControl accepted what x/sys refuses (%v)", xerr)
		}
		var re []byte
		for _, m := range msgs {
			var data []byte
			re, data = appendCmsg(re, int(m.Header.Level), int(m.Header.Type), len(m.Data))
			copy(data, m.Data)
		}
		var c2 Control
		if err := ParseControl(re, &c2); err != nil {
			t.Fatalf("re-encoding %x: %v", re, err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("original %+v, re-encoded %+v", c, c2)
		}
		if c.SegmentSize == -5 && len(oob) == 0 {
			t.Fatal("not reset")
		}
		_ = c.Timestamp.Equal(time.Time{})
	})
}

// FuzzSegments checks that Segments and NextSegment cut any buffer into
// pieces that put back together give the buffer.
func FuzzSegments(f *testing.F) {
	f.Add([]byte("0123456789"), 3)
	f.Add([]byte{}, 0)
	f.Add(make([]byte, 1500), 1200)
	f.Fuzz(func(t *testing.T, buf []byte, size int) {
		var joined []byte
		n := 0
		for seg := range Segments(buf, size) {
			if len(seg) == 0 || (size > 0 && len(seg) > size) || cap(seg) != len(seg) {
				t.Fatalf("segment of %d bytes (cap %d), size %d", len(seg), cap(seg), size)
			}
			if size > 0 && len(seg) < size && len(joined)+len(seg) != len(buf) {
				t.Fatal("short segment before the last")
			}
			joined = append(joined, seg...)
			n++
		}
		if !bytes.Equal(joined, buf) {
			t.Fatalf("joined %x, buffer %x", joined, buf)
		}
		if size > 0 && len(buf) > 0 && n != (len(buf)+size-1)/size {
			t.Fatalf("%d segments of %d bytes for %d bytes", n, size, len(buf))
		}
	})
}

// TestMaxOOBSize: every option on at once fits in MaxOOBSize on this OS
// and architecture, for either family.
func TestMaxOOBSize(t *testing.T) {
	n4, n6 := 0, 0
	for _, o := range rxOptions {
		n4, n6 = n4+o.oob4, n6+o.oob6
	}
	if n4 > MaxOOBSize || n6 > MaxOOBSize {
		t.Errorf("all options need %d (IPv4) and %d (IPv6) bytes, MaxOOBSize is %d", n4, n6, MaxOOBSize)
	}
}
