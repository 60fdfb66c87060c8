//go:build linux || freebsd

package mmsg_test

import (
	"fmt"
	"log"
	"net"

	"github.com/go-mmsg/mmsg"
	"golang.org/x/sys/unix"
)

// Receive a batch on a raw descriptor: here the one inside a net.UDPConn,
// which is non-blocking, so the time-out does the waiting.
func ExampleRecvmmsg() {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	peer, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()
	for _, s := range []string{"one", "two", "three"} {
		peer.Write([]byte(s))
	}

	// One buffer and one iovec per message; Hdr.Name could receive the
	// source address (see Conn for decoded netip addresses).
	const batch = 8
	msgs := make([]mmsg.Mmsghdr, batch)
	bufs := make([][1500]byte, batch)
	iovs := make([]unix.Iovec, batch)
	for i := range msgs {
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(len(bufs[i]))
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}

	rc, err := conn.SyscallConn()
	if err != nil {
		log.Fatal(err)
	}
	// Each call waits up to 5s for the first datagram, then takes what is
	// already queued: on Linux usually all three in one system call. A
	// datagram still on its way (FreeBSD delivers loopback traffic from
	// its netisr thread, after write has returned) comes with the next
	// call, so a reader loops until it has what it needs.
	timeout := unix.NsecToTimespec(5e9)
	for got := 0; got < 3; {
		var n int
		rc.Control(func(fd uintptr) {
			n, err = mmsg.Recvmmsg(int(fd), msgs[got:], 0, &timeout)
		})
		for i, m := range msgs[got : got+n] {
			fmt.Printf("%s\n", bufs[got+i][:m.Len])
		}
		got += n
		if err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// one
	// two
	// three
}

// Send a batch to one destination with a raw descriptor.
func ExampleSendmmsg() {
	dst, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		fmt.Println("no IPv6 loopback") // keep the example honest on odd hosts
		return
	}
	defer dst.Close()
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrInet6{Port: dst.LocalAddr().(*net.UDPAddr).Port, Addr: [16]byte{15: 1}}); err != nil {
		log.Fatal(err)
	}

	payloads := [][]byte{[]byte("alpha"), []byte("beta"), []byte("gamma")}
	msgs := make([]mmsg.Mmsghdr, len(payloads))
	iovs := make([]unix.Iovec, len(payloads))
	for i, p := range payloads {
		iovs[i].Base = &p[0]
		iovs[i].SetLen(len(p))
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	// A connected socket needs no Hdr.Name. n < len(msgs) would mean:
	// call again with msgs[n:].
	for sent := 0; sent < len(msgs); {
		n, err := mmsg.Sendmmsg(fd, msgs[sent:], 0)
		if err != nil {
			log.Fatal(err)
		}
		sent += n
	}
	for _, m := range msgs {
		fmt.Println(m.Len, "bytes sent")
	}
	buf := make([]byte, 64)
	for range payloads {
		n, _, _ := dst.ReadFromUDPAddrPort(buf)
		fmt.Printf("received %s\n", buf[:n])
	}
	// Output:
	// 5 bytes sent
	// 4 bytes sent
	// 5 bytes sent
	// received alpha
	// received beta
	// received gamma
}
