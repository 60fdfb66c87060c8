package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/go-mmsg/mmsg"
)

// mode is one way of moving datagrams: net.UDPConn, or mmsg.Conn with a
// batch size.
type mode struct {
	name  string
	batch int
}

type result struct {
	mode
	sent, received uint64
	elapsed        time.Duration // of sending
	cpu            time.Duration // process CPU time; < 0 if unknown here
}

func (r result) rate() float64 { return float64(r.received) / r.elapsed.Seconds() }

func (r result) drops() uint64 { return r.sent - min(r.sent, r.received) }

// counter is a counter on a cache line of its own, so that the sender's
// and the receiver's counting do not slow each other down.
type counter struct {
	atomic.Uint64
	_ [56]byte
}

// ioFunc moves some datagrams and says how many.
type ioFunc func() (int, error)

// open makes the receive and send functions of the mode over rx and tx.
func (m mode) open(rx, tx *net.UDPConn, dst netip.AddrPort, size int) (recv, send ioFunc, err error) {
	if m.name == "GSO+GRO" {
		return openGRO(rx, tx, dst, size, m.batch)
	}
	if m.name == "net.UDPConn" {
		rbuf, payload := make([]byte, 65536), make([]byte, size)
		recv = func() (int, error) {
			_, _, err := rx.ReadFromUDPAddrPort(rbuf)
			if err != nil {
				return 0, err
			}
			return 1, nil
		}
		send = func() (int, error) {
			_, err := tx.WriteToUDPAddrPort(payload, dst)
			if err != nil {
				return 0, err
			}
			return 1, nil
		}
		return recv, send, nil
	}
	rc, tc, err := newConns(rx, tx)
	if err != nil {
		return nil, nil, err
	}
	in, out := make([]mmsg.Message, m.batch), make([]mmsg.Message, m.batch)
	payload := make([]byte, size)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 65536)}
		out[i].Buffers = [][]byte{payload}
		out[i].Addr = dst
	}
	recv = func() (int, error) { return rc.ReadBatch(in, 0) }
	send = func() (int, error) { return tc.WriteBatch(out, 0) }
	return recv, send, nil
}

// runMode sends for cfg.duration while a second goroutine receives, then
// lets the receiver drain what is still queued (see below).
// Progress goes to progress.
func runMode(m mode, cfg config, progress io.Writer) (result, error) {
	res := result{mode: m}
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return res, err
	}
	defer rx.Close()
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return res, err
	}
	defer tx.Close()
	rx.SetReadBuffer(4 << 20) // capped by the system's maximum; fine
	recv, send, err := m.open(rx, tx, rx.LocalAddr().(*net.UDPAddr).AddrPort(), cfg.size)
	if err != nil {
		return res, err
	}
	// Deadlines bound everything, whatever happens.
	hardStop := time.Now().Add(cfg.duration + 5*time.Second)
	rx.SetReadDeadline(hardStop)
	tx.SetWriteDeadline(hardStop)

	var sent, received counter
	var stop atomic.Bool
	recvDone, sendDone := make(chan error, 1), make(chan error, 1)
	cpu0, cpuOK := cpuTime()
	start := time.Now()
	go func() {
		for {
			n, err := recv()
			received.Add(uint64(n))
			if err != nil {
				recvDone <- err
				return
			}
		}
	}()
	go func() {
		for !stop.Load() {
			n, err := send()
			sent.Add(uint64(n))
			if err != nil {
				sendDone <- err
				return
			}
		}
		sendDone <- nil
	}()
	// On a terminal the progress line is redrawn 4 times a second;
	// elsewhere (a file, a pipe, a test) a line is added every second.
	every, bol, eol := time.Second, "", "\n"
	if isTerminal(progress) {
		every, bol, eol = 250*time.Millisecond, "\r", ""
	}
	report := func() {
		s, r := sent.Load(), received.Load()
		secs := time.Since(start).Seconds()
		fmt.Fprintf(progress, "%s%-11s batch %4d: %10.0f sent/s %10.0f received/s  drops %d   %s",
			bol, m.name, m.batch, float64(s)/secs, float64(r)/secs, s-min(s, r), eol)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	timer := time.NewTimer(cfg.duration)
	defer timer.Stop()
wait:
	for {
		select {
		case <-tick.C:
			report()
		case <-timer.C:
			stop.Store(true)
		case err = <-sendDone:
			break wait
		case err = <-recvDone:
			stop.Store(true)
			<-sendDone
			return res, fmt.Errorf("receive: %w", err)
		}
	}
	res.elapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("send: %w", err)
	}
	// Let the receiver take what is queued: until everything sent has
	// arrived, or nothing came for 20ms once something had. Until the
	// first datagram a quiet spell means nothing: FreeBSD delivers
	// loopback datagrams later, from its netisr thread, and a slow
	// machine (qemu TCG, loaded) can still have all of them on the way
	// when the sender stops (-quick, 100ms: "received 0"). hardStop
	// bounds the wait.
	for last := received.Load(); last < sent.Load() && time.Now().Before(hardStop); {
		time.Sleep(20 * time.Millisecond)
		now := received.Load()
		if now == last && now > 0 {
			break
		}
		last = now
	}
	rx.SetReadDeadline(time.Now()) // ends the receiver's wait
	if err := <-recvDone; !errors.Is(err, os.ErrDeadlineExceeded) {
		return res, fmt.Errorf("receive: %w", err)
	}
	if cpu1, ok := cpuTime(); ok && cpuOK {
		res.cpu = cpu1 - cpu0
	} else {
		res.cpu = -1
	}
	res.sent, res.received = sent.Load(), received.Load()
	report()
	if eol == "" {
		fmt.Fprintln(progress)
	}
	return res, nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newConns wraps the receiver and the sender in mmsg Conns.
func newConns(rx, tx *net.UDPConn) (rc, tc *mmsg.Conn, err error) {
	if rc, err = mmsg.NewConn(rx); err != nil {
		return nil, nil, err
	}
	if tc, err = mmsg.NewConn(tx); err != nil {
		return nil, nil, err
	}
	return rc, tc, nil
}
