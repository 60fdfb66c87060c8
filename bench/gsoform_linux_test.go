//go:build linux

package bench

import (
	"bytes"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/go-mmsg/mmsg"
)

// BenchmarkGSOFormPaired compares ways of handing WriteBatch the packets
// of a GSO message. Each call sends gsoFormPkts packets of gsoFormSize
// bytes (a WireGuard packet in a 1500-byte MTU) as gsoFormMsgs GSO
// messages to a receiver with UDP GRO on; a round sends -gsoform.n
// datagrams and drains them (both timed, both sides' CPU counted; with
// -gsoform.timed=send the send only), and the two methods of a pair
// alternate round by round (runPaired). One op is one datagram. The forms, the same packets each time:
//
//   - adjacent: one buffer per packet, the packets sliced back to back
//     out of one array per message (WriteBatch joins them into one
//     iovec);
//   - contiguous: one buffer per message holding its packets;
//   - separate: one buffer per packet, each allocated on its own (one
//     iovec each);
//   - copied: separate packets copied into one buffer per message before
//     each call, as a sender that coalesces would;
//   - wg-separate, wg-copied: separate and copied with each packet at
//     offset 16 of a 64 KiB buffer of its own, as wireguard-go keeps them.
const (
	gsoFormSize = 1452
	gsoFormPkts = 128 // per WriteBatch call
	gsoFormMsgs = 3   // GSO messages per call: 42, 43 and 43 packets
)

var (
	gsoFormN     = flag.Int("gsoform.n", 2048, "datagrams per round of BenchmarkGSOFormPaired")
	gsoFormTimed = flag.String("gsoform.timed", "both", "what BenchmarkGSOFormPaired times: both (send and drain) or send")
)

// gsoFormPairs are the comparisons of BenchmarkGSOFormPaired, A vs B.
var gsoFormPairs = [][2]string{
	{"adjacent", "contiguous"},
	{"separate", "contiguous"},
	{"separate", "copied"},
	{"wg-separate", "wg-copied"},
}

// gsoForms are the forms TestGSOForm checks.
var gsoForms = []string{"adjacent", "contiguous", "separate", "copied", "wg-separate", "wg-copied"}

// gsoFormPacket fills p as packet i of a call.
func gsoFormPacket(p []byte, i int) {
	for j := range p {
		p[j] = byte(i*7 + j)
	}
}

// openGSOForm returns a sender of k datagrams (a multiple of gsoFormPkts)
// in the named form and a drain of k datagrams that passes each one to
// check, if not nil.
func openGSOForm(g *groRig, form string) (send func(k int) error, drain func(k int, check func(i int, p []byte)) error, err error) {
	if err := g.r.SetGRO(true); err != nil {
		return nil, nil, err
	}
	if !g.s.GSO().Offload {
		return nil, nil, fmt.Errorf("no UDP GSO: %v", g.s.GSO().Reason)
	}
	ms := make([]mmsg.Message, gsoFormMsgs)
	var copies [][][]byte // copied forms: each message's packets
	oob := mmsg.AppendSegmentSize(nil, gsoFormSize)
	dst := addrOf(g.rx)
	first := 0
	for i := range ms {
		n := (gsoFormPkts - first) / (gsoFormMsgs - i)
		bufs := make([][]byte, n)
		var all []byte
		for j := range bufs {
			switch form {
			case "adjacent", "contiguous":
				if all == nil {
					all = make([]byte, n*gsoFormSize)
				}
				bufs[j] = all[j*gsoFormSize : (j+1)*gsoFormSize]
			case "separate", "copied":
				bufs[j] = make([]byte, gsoFormSize)
			case "wg-separate", "wg-copied":
				bufs[j] = make([]byte, 65535)[16 : 16+gsoFormSize]
			default:
				return nil, nil, fmt.Errorf("unknown GSO form %q", form)
			}
			gsoFormPacket(bufs[j], first+j)
		}
		switch form {
		case "contiguous":
			bufs = [][]byte{all}
		case "copied", "wg-copied":
			copies = append(copies, bufs)
			bufs = [][]byte{make([]byte, 0, 65535)}
		}
		ms[i] = mmsg.Message{Buffers: bufs, OOB: oob, Addr: dst}
		first += n
	}
	in := mmsg.NewMessages(groReadBatch, mmsg.GROBufferSize, g.r.OOBSize())
	var ctl mmsg.Control
	send = func(k int) error {
		for sent := 0; sent < k; sent += gsoFormPkts {
			for i, pkts := range copies {
				b := ms[i].Buffers[0][:0]
				for _, p := range pkts {
					b = append(b, p...)
				}
				ms[i].Buffers[0] = b
			}
			n, err := g.s.WriteBatch(ms, 0)
			if err == nil && n != len(ms) {
				err = fmt.Errorf("sent %d of %d messages", n, len(ms))
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	drain = func(k int, check func(int, []byte)) error {
		for got := 0; got < k; {
			n, err := g.r.ReadBatch(in, 0)
			if err != nil {
				return err
			}
			for j := range n {
				if err := groWalk(&in[j], &ctl, true, &got, check); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return send, drain, nil
}

// BenchmarkGSOFormPaired: see the comment at the top of the file.
func BenchmarkGSOFormPaired(b *testing.B) {
	for _, p := range gsoFormPairs {
		b.Run(p[0]+"_vs_"+p[1], func(b *testing.B) {
			if *gsoFormTimed != "both" && *gsoFormTimed != "send" {
				b.Fatalf("-gsoform.timed=%q: want both or send", *gsoFormTimed)
			}
			n := max(*gsoFormN/gsoFormPkts, 1) * gsoFormPkts
			var rigs [2]*groRig
			var sends [2]func(int) error
			var drains [2]func(int, func(int, []byte)) error
			for i := range rigs {
				rigs[i] = newGRORig(b, n, true)
				var err error
				if sends[i], drains[i], err = openGSOForm(rigs[i], p[i]); err != nil {
					b.Fatal(err)
				}
				rigs[i].rx.SetReadDeadline(time.Now().Add(time.Hour))
			}
			side := func(i int) pairSide {
				return func(k int) (time.Duration, time.Duration, uint64) {
					k = max(k/gsoFormPkts, 1) * gsoFormPkts
					return rigs[i].groRound(b, sends[i], drains[i], k, *gsoFormTimed)
				}
			}
			runPaired(b, n, [2]pairSide{side(0), side(1)})
		})
	}
}

// TestGSOForm checks that every form delivers all the packets of two
// rounds, in order and intact, coalesced by GRO.
func TestGSOForm(t *testing.T) {
	for _, form := range gsoForms {
		t.Run(form, func(t *testing.T) {
			g := newGRORig(t, gsoFormPkts, false)
			send, drain, err := openGSOForm(g, form)
			if err != nil {
				t.Fatal(err)
			}
			g.rx.SetReadDeadline(time.Now().Add(10 * time.Second))
			want := make([]byte, gsoFormSize)
			for round := range 2 {
				if err := send(gsoFormPkts); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				got := 0
				err := drain(gsoFormPkts, func(i int, p []byte) {
					if i != got {
						t.Fatalf("round %d: datagram %d after %d", round, i, got)
					}
					got++
					gsoFormPacket(want, i)
					if !bytes.Equal(p, want) {
						t.Fatalf("round %d, datagram %d: %d bytes, wrong content", round, i, len(p))
					}
				})
				if err != nil || got != gsoFormPkts {
					t.Fatalf("round %d: received %d of %d: %v", round, got, gsoFormPkts, err)
				}
			}
		})
	}
}
