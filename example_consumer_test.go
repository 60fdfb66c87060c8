//go:build (linux && !(mips || mips64 || ppc64)) || freebsd

package mmsg_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/go-mmsg/mmsg"
)

// The patterns a tunnel (wireguard-go's conn.Bind) and a QUIC stack
// (quic-go's send and receive paths) need, as they are written over mmsg.
// They run the same on every OS: where the kernel has no GSO or GRO, the
// Conn sends the same datagrams one by one and they arrive one by one.
// (The big-endian targets tested only under qemu-user are left out: it
// passes control-message integers to the kernel unswapped. s390x runs on
// a real kernel.)

// A QUIC sender packs the packets of one flight, all of one size but the
// last, into one message: it builds them back to back in one array, each
// packet a slice of it, passes the slices as the Buffers (WriteBatch
// joins buffers adjacent in memory into one iovec, which the kernel
// copies fastest), and one UDP_SEGMENT control message makes the kernel
// cut them apart again (UDP GSO), ECN-marked. The receiver sees ordinary
// datagrams. (Packets in buffers of their own work too, one iovec each;
// copying them together first costs more than it saves.)
func Example_quicSend() {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Close()
	rx.SetDeadline(time.Now().Add(10 * time.Second))
	s, err := mmsg.NewConn(tx)
	if err != nil {
		log.Fatal(err)
	}

	const size = 1200
	arena := make([]byte, 0, 10*size) // one flight's packets, back to back
	var flight [][]byte
	for i := range 10 {
		n := size
		if i == 9 {
			n = 700 // the last may be shorter
		}
		start := len(arena)
		arena = append(arena, bytes.Repeat([]byte{byte(i)}, n)...) // build packet i in place
		flight = append(flight, arena[start:])
	}
	oob := mmsg.AppendSegmentSize(nil, size)
	oob = mmsg.AppendIPv4TOS(oob, mmsg.ECNECT0)
	dst := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	out := []mmsg.Message{{Buffers: flight, OOB: oob, Addr: dst}}
	if _, err := s.WriteBatch(out, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent", out[0].N, "bytes in one message")

	buf := make([]byte, 1500)
	for range flight {
		n, err := rx.Read(buf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("packet %d: %d bytes\n", buf[0], n)
	}
	// Output:
	// sent 11500 bytes in one message
	// packet 0: 1200 bytes
	// packet 1: 1200 bytes
	// packet 2: 1200 bytes
	// packet 3: 1200 bytes
	// packet 4: 1200 bytes
	// packet 5: 1200 bytes
	// packet 6: 1200 bytes
	// packet 7: 1200 bytes
	// packet 8: 1200 bytes
	// packet 9: 700 bytes
}

// A tunnel endpoint bound to the wildcard address receives in batches
// with UDP GRO (where the kernel has it, one buffer may hold many
// datagrams of one peer) and answers each datagram from the address it
// was sent to (a sticky source), as a multi-homed server must.
func Example_tunnelReceive() {
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()
	server.SetDeadline(time.Now().Add(10 * time.Second))
	peer.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := mmsg.NewConn(server)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.SetGRO(true); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		log.Fatal(err)
	}
	if err := c.SetReceivePacketInfo(true); err != nil {
		log.Fatal(err)
	}

	// The peer sends three packets of a tunnel at once.
	port := server.LocalAddr().(*net.UDPAddr).Port
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	for _, p := range []string{"pkt-a", "pkt-b", "pkt-c"} {
		if _, err := peer.WriteToUDP([]byte(p), to); err != nil {
			log.Fatal(err)
		}
	}

	// The server's receive loop: batches of 64 KiB buffers, each datagram
	// answered from its ReplySrc.
	ms := mmsg.NewMessages(8, mmsg.GROBufferSize, c.OOBSize())
	var replies []mmsg.Message
	var ctl mmsg.Control
	for got := 0; got < 3; {
		n, err := c.ReadBatch(ms, 0)
		for _, m := range ms[:n] {
			if err := m.Control(&ctl); err != nil {
				log.Fatal(err)
			}
			sticky := mmsg.AppendPacketInfo(nil, ctl.ReplySrc, ctl.IfIndex)
			for seg := range mmsg.Segments(m.Buffers[0][:m.N], ctl.SegmentSize) {
				reply := append([]byte("ack "), seg...)
				replies = append(replies, mmsg.Message{Buffers: [][]byte{reply}, OOB: sticky, Addr: m.Addr})
				got++
			}
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	if _, err := c.WriteBatch(replies, 0); err != nil {
		log.Fatal(err)
	}

	buf := make([]byte, 64)
	for range replies {
		n, from, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s from %v\n", buf[:n], from.Addr())
	}
	// Output:
	// ack pkt-a from 127.0.0.1
	// ack pkt-b from 127.0.0.1
	// ack pkt-c from 127.0.0.1
}
