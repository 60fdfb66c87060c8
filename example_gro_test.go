//go:build linux && !(mips || mips64 || ppc64)

package mmsg_test

import (
	"bytes"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/go-mmsg/mmsg"
)

// This file skips the big-endian architectures that are tested only under
// qemu-user (mips, mips64, ppc64), which passes control-message integers
// to the host kernel unswapped (see control_linux_test.go), so that
// UDP_SEGMENT and IP_TOS would be refused there; s390x runs on a real
// kernel (docs/kernels.md).

// A sender hands the kernel 3500 bytes as one message cut into 1200-byte
// datagrams (UDP GSO), marked ECT(0); a receiver with UDP GRO on gets them
// back, possibly still coalesced in one buffer, and walks the datagrams.
func ExampleConn_SetGRO() {
	rconn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer rconn.Close()
	sconn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer sconn.Close()
	r, _ := mmsg.NewConn(rconn)
	s, _ := mmsg.NewConn(sconn)
	if err := r.SetGRO(true); err != nil {
		log.Fatal(err)
	}
	if err := r.SetReceiveTOS(true); err != nil {
		log.Fatal(err)
	}
	rconn.SetReadDeadline(time.Now().Add(10 * time.Second))

	// Send: one message, three datagrams, ECN-capable (ECT(0)).
	dst := rconn.LocalAddr().(*net.UDPAddr).AddrPort()
	payload := bytes.Repeat([]byte("x"), 3500)
	oob := mmsg.AppendSegmentSize(nil, 1200)
	oob = mmsg.AppendIPv4TOS(oob, mmsg.ECNECT0)
	out := []mmsg.Message{{Buffers: [][]byte{payload}, OOB: oob, Addr: dst}}
	if _, err := s.WriteBatch(out, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent", out[0].N, "bytes")

	// Receive: 64 KiB buffers, and room for the control messages.
	ms := mmsg.NewMessages(8, mmsg.GROBufferSize, r.OOBSize())
	var ctl mmsg.Control
	for got := 0; got < 3; {
		n, err := r.ReadBatch(ms, 0)
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range ms[:n] {
			if err := m.Control(&ctl); err != nil {
				log.Fatal(err)
			}
			for seg := range mmsg.Segments(m.Buffers[0][:m.N], ctl.SegmentSize) {
				fmt.Printf("%d bytes from %v, ECT(0): %v\n", len(seg), m.Addr.Addr(), ctl.ECN() == mmsg.ECNECT0)
				got++
			}
		}
	}
	// Output:
	// sent 3500 bytes
	// 1200 bytes from 127.0.0.1, ECT(0): true
	// 1200 bytes from 127.0.0.1, ECT(0): true
	// 1100 bytes from 127.0.0.1, ECT(0): true
}

// A server bound to the wildcard address answers each request from the
// address the request was sent to (a sticky source), as a tunnel or QUIC
// server on a multi-homed host must: SetReceivePacketInfo, then
// AppendPacketInfo with the received Control's ReplySrc and IfIndex.
func ExampleControl_replySrc() {
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	server.SetDeadline(time.Now().Add(10 * time.Second))
	client.SetDeadline(time.Now().Add(10 * time.Second))
	s, _ := mmsg.NewConn(server)
	if err := s.SetReceivePacketInfo(true); err != nil {
		log.Fatal(err)
	}
	port := server.LocalAddr().(*net.UDPAddr).Port
	if _, err := client.WriteToUDP([]byte("ping"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
		log.Fatal(err)
	}

	ms := mmsg.NewMessages(1, 1500, s.OOBSize())
	if _, err := s.ReadBatch(ms, 0); err != nil {
		log.Fatal(err)
	}
	var ctl mmsg.Control
	if err := ms[0].Control(&ctl); err != nil {
		log.Fatal(err)
	}
	fmt.Println("request to", ctl.Dst, "reply from", ctl.ReplySrc)
	reply := []mmsg.Message{{
		Buffers: [][]byte{[]byte("pong")},
		OOB:     mmsg.AppendPacketInfo(nil, ctl.ReplySrc, ctl.IfIndex),
		Addr:    ms[0].Addr,
	}}
	if _, err := s.WriteBatch(reply, 0); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 16)
	n, from, err := client.ReadFromUDPAddrPort(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s from %v\n", buf[:n], from.Addr())
	// Output:
	// request to 127.0.0.1 reply from 127.0.0.1
	// pong from 127.0.0.1
}

// A tunnel whose peer reads at most 64 datagrams per buffer (wireguard-go's
// receive path has room for 64) caps the segments of each GSO datagram it
// sends: a message of 128 packets leaves as two GSO datagrams of 64, and a
// receiver with GRO on gets no buffer of more than 64 datagrams.
func ExampleConn_SetMaxSegments() {
	rconn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer rconn.Close()
	sconn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer sconn.Close()
	r, _ := mmsg.NewConn(rconn)
	s, _ := mmsg.NewConn(sconn)
	if err := r.SetGRO(true); err != nil {
		log.Fatal(err)
	}
	if err := s.SetMaxSegments(64); err != nil {
		log.Fatal(err)
	}
	fmt.Println("segments per GSO datagram:", s.GSO().MaxSegments)

	const size = 400
	packets := make([]byte, 128*size) // 128 packets back to back
	out := []mmsg.Message{{
		Buffers: [][]byte{packets},
		OOB:     mmsg.AppendSegmentSize(nil, size),
		Addr:    rconn.LocalAddr().(*net.UDPAddr).AddrPort(),
	}}
	if _, err := s.WriteBatch(out, 0); err != nil {
		log.Fatal(err)
	}

	rconn.SetReadDeadline(time.Now().Add(10 * time.Second))
	in := mmsg.NewMessages(8, mmsg.GROBufferSize, r.OOBSize())
	var ctl mmsg.Control
	got, most := 0, 0
	for got < 128 {
		n, err := r.ReadBatch(in, 0)
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range in[:n] {
			if err := m.Control(&ctl); err != nil {
				log.Fatal(err)
			}
			k := 0
			for range mmsg.Segments(m.Buffers[0][:m.N], ctl.SegmentSize) {
				k++
			}
			got, most = got+k, max(most, k)
		}
	}
	fmt.Println("datagrams received:", got)
	fmt.Println("at most 64 in one buffer:", most <= 64)
	// Output:
	// segments per GSO datagram: 64
	// datagrams received: 128
	// at most 64 in one buffer: true
}
