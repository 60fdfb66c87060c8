//go:build linux || freebsd

package mmsg

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// qemu-user (7.2) limits, by which the loopback tests below skip what it
// cannot do: it copies the payloads of control messages it does not know
// (UDP_SEGMENT, UDP_GRO, IP_TOS as an int, IPV6_TCLASS, IP_PKTINFO,
// IPV6_PKTINFO) byte for byte between target and host, so on a big-endian
// target their integers reach the host kernel, and come back from it,
// byte-swapped; it does not implement setsockopt(SO_TIMESTAMPNS,
// SO_TIMESTAMPNS_NEW, SO_RXQ_OVFL): ENOPROTOOPT; and it may cut the last
// control message into a short OOB without setting MSG_CTRUNC. The parser's big-endian
// and 32-bit decoding is covered by control_test.go, which runs there.

func skipIfQEMUSwapsCmsg(t *testing.T) {
	t.Helper()
	if underQEMU() && bigEndian() {
		t.Skip("qemu-user passes control-message integers (UDP_SEGMENT, UDP_GRO, IP_TOS, IPV6_TCLASS, pktinfo ifindex) between a big-endian target and the host unswapped")
	}
}

// qemuLacks reports whether err is qemu-user's answer to a socket option
// it does not implement.
func qemuLacks(err error) bool { return underQEMU() && errors.Is(err, unix.ENOPROTOOPT) }

// ctlPair opens a receiver and a sender on f's loopback, with deadlines.
func ctlPair(t *testing.T, network string, addr netip.Addr) (r, s *Conn, rconn, sconn *net.UDPConn) {
	t.Helper()
	rconn = connListen(t, network, addr)
	sconn = connListen(t, network, addr)
	rconn.SetDeadline(time.Now().Add(30 * time.Second))
	sconn.SetDeadline(time.Now().Add(30 * time.Second))
	return connNew(t, rconn), connNew(t, sconn), rconn, sconn
}

// ctlRcvbuf enlarges a receive buffer (root) to size, or to the most a
// test asks for on this OS (connMaxRcvbuf: FreeBSD caps it at
// kern.ipc.maxsockbuf, for root too), reporting whether it could.
func ctlRcvbuf(t *testing.T, c *net.UDPConn, size int) bool {
	t.Helper()
	ok := false
	connControl(t, c, func(fd int) error {
		ok = connForceRcvbuf(fd, min(size, connMaxRcvbuf)) == nil
		return nil
	})
	return ok
}

// ctlCapture saves control data the kernel produced as a seed of
// FuzzParseControl when MMSG_WRITE_CORPUS is set (go test -run . with
// MMSG_WRITE_CORPUS=1 on linux/amd64 wrote testdata/fuzz/FuzzParseControl).
func ctlCapture(t *testing.T, name string, oob []byte) {
	if os.Getenv("MMSG_WRITE_CORPUS") == "" || len(oob) == 0 {
		return
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseControl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", oob)
	if err := os.WriteFile(filepath.Join(dir, "kernel-"+name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReceiveControl: ECN codepoints (per message and per socket), packet
// info and timestamps round-trip over IPv4, IPv6, and IPv4 on an AF_INET6
// socket.
func TestReceiveControl(t *testing.T) {
	skipIfQEMUSwapsCmsg(t)
	lo := loIndex(t)
	cases := []struct {
		name       string
		rnet, snet string
		raddr      netip.Addr
		saddr      netip.Addr
		dst        netip.Addr // expected Control.Dst
	}{
		{"IPv4", "udp4", "udp4", netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1")},
		{"IPv6", "udp6", "udp6", netip.MustParseAddr("::1"), netip.MustParseAddr("::1"), netip.MustParseAddr("::1")},
		{"IPv4in6", "udp", "udp4", netip.IPv6Unspecified(), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::ffff:127.0.0.1")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rconn := connListen(t, tc.rnet, tc.raddr)
			sconn := connListen(t, tc.snet, tc.saddr)
			rconn.SetDeadline(time.Now().Add(30 * time.Second))
			r, s := connNew(t, rconn), connNew(t, sconn)
			if r.OOBSize() != 0 {
				t.Errorf("OOBSize with nothing on = %d", r.OOBSize())
			}
			for _, set := range []func(bool) error{r.SetReceiveTOS, r.SetReceivePacketInfo} {
				if err := set(true); err != nil {
					t.Fatal(err)
				}
			}
			timestamps := true
			if err := r.SetReceiveTimestamps(true); qemuLacks(err) {
				t.Logf("timestamps not checked: qemu-user: %v", err)
				timestamps = false
			} else if err != nil {
				t.Fatal(err)
			}
			dst := netip.AddrPortFrom(tc.dst.Unmap(), rconn.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			toses := []byte{ECNNotECT, ECNECT1, ECNECT0, ECNCE, 0xb8 | ECNECT0, 0x28 | ECNCE}
			out := make([]Message, len(toses))
			for i, tos := range toses {
				out[i] = Message{Buffers: [][]byte{connPayload(i, 32)}, Addr: dst, OOB: AppendTOS(nil, dst.Addr(), tos)}
			}
			before := time.Now()
			if n, err := s.WriteBatch(out, 0); n != len(out) || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			// Per socket: IP_TOS / IPV6_TCLASS on the sender.
			const sockTOS = 0x40 | ECNCE
			connControl(t, sconn, func(fd int) error {
				if tc.snet == "udp6" {
					return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, sockTOS)
				}
				return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, sockTOS)
			})
			plain := []Message{{Buffers: [][]byte{connPayload(len(toses), 32)}, Addr: dst}}
			if n, err := s.WriteBatch(plain, 0); n != 1 || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			toses = append(toses, sockTOS)
			in := NewMessages(len(toses), 64, r.OOBSize())
			var ctl Control
			i := 0
			connReadAll(t, r, in, len(toses), func(m *Message) {
				after := time.Now()
				if err := m.Control(&ctl); err != nil {
					t.Fatalf("datagram %d: %v", i, err)
				}
				ctlCapture(t, tc.name+"-"+fmt.Sprint(i), m.OOB[:m.NN])
				if !bytes.Equal(connJoin(m), connPayload(i, 32)) {
					t.Errorf("datagram %d: %q", i, connJoin(m))
				}
				if !ctl.HasTOS || ctl.TOS != toses[i] || ctl.ECN() != toses[i]&3 {
					t.Errorf("datagram %d: TOS %#x (%v), ECN %d; want %#x", i, ctl.TOS, ctl.HasTOS, ctl.ECN(), toses[i])
				}
				if ctl.Dst != tc.dst || ctl.IfIndex != lo || ctl.ReplySrc != tc.dst {
					t.Errorf("datagram %d: Dst %v, IfIndex %d, ReplySrc %v; want %v, %d, %[4]v", i, ctl.Dst, ctl.IfIndex, ctl.ReplySrc, tc.dst, lo)
				}
				// Wall clock: allow for a step of NTP.
				if timestamps && (ctl.Timestamp.Before(before.Add(-time.Second)) || ctl.Timestamp.After(after.Add(time.Second))) {
					t.Errorf("datagram %d: timestamp %v, not within [%v, %v]", i, ctl.Timestamp, before, after)
				}
				if m.NN > r.OOBSize() {
					t.Errorf("datagram %d: %d bytes of control data, OOBSize %d", i, m.NN, r.OOBSize())
				}
				i++
			})
			// Turning an option off takes it out of OOBSize and
			// of the control data.
			size := r.OOBSize()
			if err := r.SetReceiveTimestamps(false); err != nil && !qemuLacks(err) {
				t.Fatal(err)
			}
			if timestamps && r.OOBSize() >= size {
				t.Errorf("OOBSize %d after SetReceiveTimestamps(false), %d before", r.OOBSize(), size)
			}
			if n, err := s.WriteBatch(plain, 0); n != 1 || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			connReadAll(t, r, in[:1], 1, func(m *Message) {
				if err := m.Control(&ctl); err != nil || !ctl.Timestamp.IsZero() || !ctl.HasTOS {
					t.Errorf("timestamps off: %+v, %v", ctl, err)
				}
			})
			// A buffer too small for the options: MSG_CTRUNC.
			if n, err := s.WriteBatch(plain, 0); n != 1 || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			in[0].OOB = in[0].OOB[:cmsgSpace(1)]
			connReadAll(t, r, in[:1], 1, func(m *Message) {
				ctlCapture(t, "ctrunc-"+tc.name, m.OOB[:m.NN])
				if err := m.Control(&ctl); err != ErrControlTruncated {
					t.Errorf("OOB of %d bytes: Control = %v, want ErrControlTruncated (flags %#x)", len(m.OOB), err, m.Flags)
				}
			})
		})
	}
}

// TestPacketInfoDst: a receiver bound to the wildcard address learns which
// of its addresses a datagram was sent to.
func TestPacketInfoDst(t *testing.T) {
	rconn := connListen(t, "udp4", netip.IPv4Unspecified())
	rconn.SetDeadline(time.Now().Add(30 * time.Second))
	r := connNew(t, rconn)
	if err := r.SetReceivePacketInfo(true); err != nil {
		t.Fatal(err)
	}
	s := connNew(t, connListen(t, "udp4", netip.MustParseAddr("127.0.0.1")))
	port := rconn.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	// Linux answers for all of 127/8 on lo; FreeBSD's lo0 has
	// 127.0.0.1 only.
	dsts := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.1.2.3")}
	if runtime.GOOS == "freebsd" {
		dsts = dsts[1:2]
	}
	out := make([]Message, len(dsts))
	for i, d := range dsts {
		out[i] = Message{Buffers: [][]byte{{byte(i)}}, Addr: netip.AddrPortFrom(d, port)}
	}
	if n, err := s.WriteBatch(out, 0); n != len(out) || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	in := NewMessages(len(dsts), 16, r.OOBSize())
	var ctl Control
	i := 0
	connReadAll(t, r, in, len(dsts), func(m *Message) {
		if err := m.Control(&ctl); err != nil || ctl.Dst != dsts[i] || ctl.ReplySrc != dsts[i] {
			t.Errorf("datagram %d: Dst %v, ReplySrc %v (%v), want %v", i, ctl.Dst, ctl.ReplySrc, err, dsts[i])
		}
		i++
	})
}

// TestSendPacketInfo: a sender bound to the wildcard address picks each
// datagram's source address with AppendPacketInfo. Loopback has one IPv6
// address, so IPv6 source selection is proven on an AF_INET6 socket
// sending IPv4 (v4-mapped) datagrams, with IPV6_PKTINFO.
func TestSendPacketInfo(t *testing.T) {
	lo := loIndex(t)
	cases := []struct {
		name  string
		snet  string
		saddr netip.Addr
		rnet  string
		raddr netip.Addr
		srcs  []netip.Addr // src for AppendPacketInfo
		want  []netip.Addr // source the receiver sees
		ifs   []int
	}{
		{"IPv4", "udp4", netip.IPv4Unspecified(), "udp4", netip.MustParseAddr("127.0.0.1"),
			[]netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.3")},
			[]netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.3")},
			[]int{0, 0, lo}},
		{"IPv6", "udp6", netip.IPv6Unspecified(), "udp6", netip.MustParseAddr("::1"),
			[]netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("::1")},
			[]netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("::1")},
			[]int{0, lo}},
		{"IPv4in6", "udp", netip.IPv6Unspecified(), "udp4", netip.MustParseAddr("127.0.0.1"),
			[]netip.Addr{netip.MustParseAddr("::ffff:127.0.0.2"), netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("::ffff:127.0.0.1")},
			[]netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("127.0.0.1")},
			[]int{0, 0, lo}},
	}
	if runtime.GOOS == "freebsd" {
		// lo0 has 127.0.0.1 only (a non-local source is refused: see
		// TestSendPacketInfoRefused), IP_SENDSRCADDR takes no
		// interface, and a v4-mapped destination takes no IPv6
		// control message.
		cases = cases[:2]
		cases[0].srcs, cases[0].want, cases[0].ifs = cases[0].srcs[1:2], cases[0].want[1:2], cases[0].ifs[1:2]
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rconn := connListen(t, tc.rnet, tc.raddr)
			rconn.SetDeadline(time.Now().Add(30 * time.Second))
			r := connNew(t, rconn)
			s := connNew(t, connListen(t, tc.snet, tc.saddr))
			dst := rconn.LocalAddr().(*net.UDPAddr).AddrPort()
			out := make([]Message, len(tc.srcs))
			for i, src := range tc.srcs {
				ifIndex := tc.ifs[i]
				if underQEMU() && bigEndian() {
					ifIndex = 0 // see skipIfQEMUSwapsCmsg; the address is bytes, unaffected
				}
				out[i] = Message{Buffers: [][]byte{{byte(i)}}, Addr: dst, OOB: AppendPacketInfo(nil, src, ifIndex)}
			}
			if n, err := s.WriteBatch(out, 0); n != len(out) || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			in := NewMessages(len(out), 16, 0)
			i := 0
			connReadAll(t, r, in, len(out), func(m *Message) {
				if m.N != 1 || m.Buffers[0][0] != byte(i) || m.Addr.Addr() != tc.want[i] {
					t.Errorf("datagram %d (%d) from %v, want %v", i, m.Buffers[0][0], m.Addr, tc.want[i])
				}
				i++
			})
		})
	}
}

// TestSendPacketInfoRefused: the kernel really takes the source from the
// control message: an address that is not the host's is refused.
func TestSendPacketInfoRefused(t *testing.T) {
	rconn := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	s := connNew(t, connListen(t, "udp4", netip.IPv4Unspecified()))
	out := []Message{{Buffers: [][]byte{{1}}, Addr: connAddr(rconn), OOB: AppendPacketInfo(nil, netip.MustParseAddr("192.0.2.1"), 0)}}
	n, err := s.WriteBatch(out, 0)
	t.Logf("WriteBatch from 192.0.2.1: %d, %v", n, err)
	if n != 0 || err == nil || runtime.GOOS == "freebsd" && !errors.Is(err, unix.EADDRNOTAVAIL) {
		t.Fatalf("WriteBatch from 192.0.2.1 = %d, %v; want an error (EADDRNOTAVAIL on FreeBSD)", n, err)
	}
}

// ctlLayout lists the (level, type) and offset of each control message in
// oob, which the kernel wrote.
func ctlLayout(t *testing.T, oob []byte) (offs []int, lt [][2]int) {
	t.Helper()
	for off := 0; off < len(oob); {
		level, typ, _, next, _, reason := cmsgAt(oob, off)
		if reason != "" {
			t.Fatalf("kernel control data %x: %s at %d", oob, reason, off)
		}
		offs, lt = append(offs, off), append(lt, [2]int{level, typ})
		off = next
	}
	return offs, lt
}

// TestControlTruncatedLoopback: a real short OOB (issue 8, bug 4). First
// the case, a receive timestamp into CMSG_LEN(half of it): Linux
// cuts the message to what fits and sets MSG_CTRUNC; Message.Control must
// answer ErrControlTruncated and leave Timestamp zero (it used to decode
// the 8 bytes as a 32-bit timestamp). Then an OOB that holds all the
// control messages but the last one's payload: the fields of the whole
// ones are kept, the last one's is not filled.
func TestControlTruncatedLoopback(t *testing.T) {
	for _, f := range connFamilies {
		t.Run(f.name, func(t *testing.T) {
			r, s, rconn, _ := ctlPair(t, f.network, f.addr)
			timestamps := true
			if err := r.SetReceiveTimestamps(true); qemuLacks(err) {
				timestamps = false
			} else if err != nil {
				t.Fatal(err)
			}
			send := func() {
				t.Helper()
				out := []Message{{Buffers: [][]byte{[]byte("ctrunc")}, Addr: connAddr(rconn)}}
				if n, err := s.WriteBatch(out, 0); n != 1 || err != nil {
					t.Fatalf("WriteBatch = %d, %v", n, err)
				}
			}
			in := NewMessages(1, 64, MaxOOBSize)
			var ctl Control
			if timestamps {
				// A full read first: the timestamp's real size.
				send()
				var tsLen int
				connReadAll(t, r, in, 1, func(m *Message) {
					_, _, data, _, _, reason := cmsgAt(m.OOB[:m.NN], 0)
					if reason != "" || m.Control(&ctl) != nil || ctl.Timestamp.IsZero() {
						t.Fatalf("full OOB: %x (%s), %+v", m.OOB[:m.NN], reason, ctl)
					}
					tsLen = len(data)
				})
				send()
				in[0].OOB = in[0].OOB[:cmsgDataOff+tsLen/2]
				connReadAll(t, r, in, 1, func(m *Message) {
					ctlCapture(t, "ctrunc-timestamp-"+f.name, m.OOB[:m.NN])
					err := m.Control(&ctl)
					t.Logf("OOB of %d bytes for a %d-byte timestamp: NN %d, flags %#x, %v", len(m.OOB), tsLen, m.NN, m.Flags, err)
					if err != ErrControlTruncated || m.Flags&unix.MSG_CTRUNC == 0 {
						t.Errorf("Control = %v (flags %#x), want ErrControlTruncated", err, m.Flags)
					}
					if !ctl.Timestamp.IsZero() {
						t.Errorf("timestamp %v made up from %d bytes of a cut message", ctl.Timestamp, m.NN)
					}
				})
				in[0].OOB = in[0].OOB[:MaxOOBSize]
			}

			// Packet info and TOS too; then cut the last message.
			if err := r.SetReceivePacketInfo(true); err != nil {
				t.Fatal(err)
			}
			if err := r.SetReceiveTOS(true); err != nil {
				t.Fatal(err)
			}
			send()
			var full Control
			var offs []int
			var lt [][2]int
			connReadAll(t, r, in, 1, func(m *Message) {
				if err := m.Control(&full); err != nil {
					t.Fatal(err)
				}
				offs, lt = ctlLayout(t, m.OOB[:m.NN])
			})
			if len(offs) < 2 {
				t.Fatalf("%d control messages, want at least 2", len(offs))
			}
			last := offs[len(offs)-1]
			var whole Control // what the messages before the last one give
			if err := ParseControl(in[0].OOB[:last], &whole); err != nil {
				t.Fatal(err)
			}
			if whole.HasTOS == full.HasTOS && whole.Dst == full.Dst && whole.Timestamp.IsZero() == full.Timestamp.IsZero() {
				t.Fatalf("the last control message (level %d, type %d) fills no field of its own", lt[len(lt)-1][0], lt[len(lt)-1][1])
			}
			send()
			in[0].OOB = in[0].OOB[:last+cmsgHdrLen]
			connReadAll(t, r, in, 1, func(m *Message) {
				ctlCapture(t, "ctrunc-last-"+f.name, m.OOB[:m.NN])
				err := m.Control(&ctl)
				if underQEMU() && m.Flags&unix.MSG_CTRUNC == 0 && errors.Is(err, ErrMalformedControl) {
					// qemu-user cuts the message without setting
					// MSG_CTRUNC: malformed, and still no field.
					t.Logf("qemu-user: no MSG_CTRUNC for a cut message: %v", err)
				} else if err != ErrControlTruncated {
					t.Errorf("OOB of %d bytes (the last message at %d): Control = %v, want ErrControlTruncated", len(m.OOB), last, err)
				}
				// Timestamps differ from datagram to datagram: compare
				// which fields are set, and the others' values.
				got, want := ctl, whole
				if got.Timestamp.IsZero() != want.Timestamp.IsZero() {
					t.Errorf("cut control data: timestamp %v, whole messages' %v", got.Timestamp, want.Timestamp)
				}
				got.Timestamp, want.Timestamp = time.Time{}, time.Time{}
				if got != want {
					t.Errorf("cut control data gave %+v, want the whole messages' %+v", ctl, whole)
				}
			})
		})
	}
}

// TestSetListOrNext: an orNext socket option falls back to the next one
// when the kernel refuses it, and skips it when it works.
func TestSetListOrNext(t *testing.T) {
	c := connListen(t, "udp4", netip.MustParseAddr("127.0.0.1"))
	const bogus = 0x7ff0 // no such SOL_SOCKET option
	get := func() int {
		v := -1
		connControl(t, c, func(fd int) (err error) {
			v, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMP)
			return err
		})
		return v
	}
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	run := func(list []sockopt, v int) (err error) {
		rc.Control(func(fd uintptr) { err = setList(fd, list, v) })
		return err
	}
	if err := run([]sockopt{{unix.SOL_SOCKET, bogus, true}, {unix.SOL_SOCKET, unix.SO_TIMESTAMP, false}}, 1); err != nil || get() == 0 {
		t.Errorf("fallback: %v, SO_TIMESTAMP = %d", err, get())
	}
	if err := run([]sockopt{{unix.SOL_SOCKET, unix.SO_TIMESTAMP, true}, {unix.SOL_SOCKET, bogus, false}}, 0); err != nil || get() != 0 {
		t.Errorf("skip: %v, SO_TIMESTAMP = %d", err, get())
	}
	if err := run([]sockopt{{unix.SOL_SOCKET, bogus, false}}, 1); err == nil {
		t.Error("a refused option gave no error")
	}
}
