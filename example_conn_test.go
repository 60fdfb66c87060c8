package mmsg_test

import (
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/go-mmsg/mmsg"
)

// An echo server that reads a batch and sends it back in one call, and a
// client that sends three datagrams at once and reads the replies.
func ExampleConn() {
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	srv, err := mmsg.NewConn(server)
	if err != nil {
		log.Fatal(err)
	}

	go func() {
		ms := make([]mmsg.Message, 64)
		bufs := make([][1500]byte, len(ms))
		replies := make([]mmsg.Message, len(ms))
		for i := range ms {
			ms[i].Buffers = [][]byte{bufs[i][:]}
		}
		for {
			n, err := srv.ReadBatch(ms, 0)
			// Echo what arrived: each reply goes to its datagram's source.
			for i := range n {
				replies[i].Buffers = [][]byte{bufs[i][:ms[i].N]}
				replies[i].Addr = ms[i].Addr
			}
			if _, werr := srv.WriteBatch(replies[:n], 0); werr != nil {
				return
			}
			if err != nil {
				return // net.ErrClosed once the server is closed
			}
		}
	}()

	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	cl, err := mmsg.NewConn(client)
	if err != nil {
		log.Fatal(err)
	}
	to := server.LocalAddr().(*net.UDPAddr).AddrPort()
	out := []mmsg.Message{
		{Buffers: [][]byte{[]byte("hello")}, Addr: to},
		{Buffers: [][]byte{[]byte("batched")}, Addr: to},
		{Buffers: [][]byte{[]byte("world")}, Addr: to},
	}
	if n, err := cl.WriteBatch(out, 0); err != nil {
		log.Fatal(n, err)
	}

	in := make([]mmsg.Message, 8)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	for got := 0; got < len(out); {
		n, err := cl.ReadBatch(in, 0)
		for _, m := range in[:n] {
			fmt.Printf("%s from the server: %v\n", m.Buffers[0][:m.N], m.Addr == to)
		}
		got += n
		if err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// hello from the server: true
	// batched from the server: true
	// world from the server: true
}

// Migrating from golang.org/x/net/ipv4.PacketConn.ReadBatch. The x/net
// code, for comparison:
//
//	p := ipv4.NewPacketConn(conn)
//	ms := make([]ipv4.Message, 16)
//	for i := range ms {
//		ms[i].Buffers = [][]byte{make([]byte, 1500)}
//	}
//	n, err := p.ReadBatch(ms, 0) // recvmmsg on Linux only; n == -1 on a deadline
//	if err != nil {
//		return err
//	}
//	for _, m := range ms[:n] {
//		src := m.Addr.(*net.UDPAddr) // two allocations per message
//		handle(m.Buffers[0][:m.N], src)
//	}
//
// With mmsg the Message has the same fields, with Addr a netip.AddrPort:
// no allocations, the same batching on FreeBSD, and n is never negative.
// The messages before an error are valid, as with io.Reader.
func Example_migrateFromXNet() {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	peer, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()
	for _, s := range []string{"one", "two", "three"} {
		peer.Write([]byte(s))
	}

	// p := ipv4.NewPacketConn(conn) becomes:
	p, err := mmsg.NewConn(conn)
	if err != nil {
		log.Fatal(err)
	}
	ms := make([]mmsg.Message, 16) // was []ipv4.Message
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	handle := func(b []byte, src netip.AddrPort) {
		fmt.Printf("%q from the peer: %v\n", b, src == peer.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	for got := 0; got < 3; {
		n, err := p.ReadBatch(ms, 0)
		for _, m := range ms[:n] {
			handle(m.Buffers[0][:m.N], m.Addr) // was m.Addr.(*net.UDPAddr)
		}
		got += n
		if err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// "one" from the peer: true
	// "two" from the peer: true
	// "three" from the peer: true
}
