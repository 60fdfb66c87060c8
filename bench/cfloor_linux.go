//go:build linux && cgo

package bench

/*
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

// A C batch: vlen headers, each with one buffer of bufsz bytes and room for
// an IPv6 socket address. Everything lives in C memory, so a whole drain or
// send runs in one cgo call and the call's overhead is amortized.
typedef struct {
	int vlen, bufsz;
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_in6 *names;
	char *bufs;
	unsigned long long bytes;
} cbatch;

static void cb_free(cbatch *b) {
	if (!b) return;
	free(b->msgs); free(b->iov); free(b->names); free(b->bufs); free(b);
}

static cbatch *cb_new(int vlen, int bufsz) {
	cbatch *b = calloc(1, sizeof *b);
	if (!b) return NULL;
	b->vlen = vlen; b->bufsz = bufsz;
	b->msgs = calloc(vlen, sizeof *b->msgs);
	b->iov = calloc(vlen, sizeof *b->iov);
	b->names = calloc(vlen, sizeof *b->names);
	b->bufs = calloc(vlen, bufsz);
	if (!b->msgs || !b->iov || !b->names || !b->bufs) { cb_free(b); return NULL; }
	for (int i = 0; i < vlen; i++) {
		b->iov[i].iov_base = b->bufs + (size_t)i * bufsz;
		b->iov[i].iov_len = bufsz;
		b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
		b->msgs[i].msg_hdr.msg_name = &b->names[i];
		b->msgs[i].msg_hdr.msg_namelen = sizeof b->names[i];
	}
	return b;
}

// cb_recv makes one recvmmsg call for up to vlen datagrams without waiting.
// Returns the count, or -errno.
static int cb_recv(cbatch *b, int fd, int vlen) {
	for (;;) {
		int n = recvmmsg(fd, b->msgs, vlen, MSG_DONTWAIT, NULL);
		if (n >= 0) return n;
		if (errno != EINTR) return -errno;
	}
}

// cb_drain receives until want datagrams are in or the queue is empty,
// vlen at a time, resetting the value-result name lengths as a correct
// caller must. Returns the count, or -errno.
static long cb_drain(cbatch *b, int fd, long want) {
	long got = 0;
	int used = b->vlen;
	while (got < want) {
		for (int i = 0; i < used; i++)
			b->msgs[i].msg_hdr.msg_namelen = sizeof b->names[i];
		int n = cb_recv(b, fd, b->vlen);
		if (n == -EAGAIN) break;
		if (n < 0) return n;
		for (int i = 0; i < n; i++) b->bytes += b->msgs[i].msg_len;
		got += n;
		used = n;
	}
	return got;
}

// cb_set_dest points every header at one IPv4 destination (address and
// port in network byte order) and sets the payload size.
static void cb_set_dest(cbatch *b, unsigned int addr, unsigned short port, int size) {
	for (int i = 0; i < b->vlen; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&b->names[i];
		memset(sin, 0, sizeof b->names[i]);
		sin->sin_family = AF_INET;
		sin->sin_port = port;
		sin->sin_addr.s_addr = addr;
		b->msgs[i].msg_hdr.msg_namelen = sizeof *sin;
		b->iov[i].iov_len = size;
	}
}

// cb_send sends want datagrams, vlen at a time, waiting in poll when the
// socket buffer is full. Returns the count, or -errno.
static long cb_send(cbatch *b, int fd, long want) {
	long sent = 0;
	while (sent < want) {
		long v = want - sent;
		if (v > b->vlen) v = b->vlen;
		int n = sendmmsg(fd, b->msgs, (unsigned int)v, 0);
		if (n >= 0) { sent += n; continue; }
		if (errno == EINTR) continue;
		if (errno != EAGAIN) return -errno;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 5000) == 0) return -ETIMEDOUT;
	}
	return sent;
}

// cb_recv_once resets every name length and makes one cb_recv (tests).
static int cb_recv_once(cbatch *b, int fd) {
	for (int i = 0; i < b->vlen; i++)
		b->msgs[i].msg_hdr.msg_namelen = sizeof b->names[i];
	return cb_recv(b, fd, b->vlen);
}

static unsigned int cb_len(cbatch *b, int i) { return b->msgs[i].msg_len; }
static char *cb_buf(cbatch *b, int i) { return b->bufs + (size_t)i * b->bufsz; }
static struct sockaddr_in *cb_name4(cbatch *b, int i) { return (struct sockaddr_in *)&b->names[i]; }
static int cb_namelen(cbatch *b, int i) { return b->msgs[i].msg_hdr.msg_namelen; }
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"unsafe"
)

// haveC reports whether the C floor is built in (it needs cgo).
const haveC = true

// cBatch is a batch of mmsghdrs in C memory for the C floor.
type cBatch struct{ b *C.cbatch }

func newCBatch(vlen, bufsz int) (*cBatch, error) {
	b := C.cb_new(C.int(vlen), C.int(bufsz))
	if b == nil {
		return nil, errors.New("cb_new: out of memory")
	}
	return &cBatch{b}, nil
}

func (c *cBatch) free() { C.cb_free(c.b); c.b = nil }

func errnoOf(r C.long) error { return syscall.Errno(-r) }

// drain receives up to want datagrams from fd in one cgo call, vlen per
// recvmmsg(2), stopping early only if the queue runs dry.
func (c *cBatch) drain(fd, want int) (int, error) {
	r := C.cb_drain(c.b, C.int(fd), C.long(want))
	if r < 0 {
		return 0, errnoOf(r)
	}
	return int(r), nil
}

// recvOnce makes one recvmmsg(2) call without waiting (for tests, which
// then read the messages with msg).
func (c *cBatch) recvOnce(fd int) (int, error) {
	r := C.cb_recv_once(c.b, C.int(fd))
	if r < 0 {
		return 0, syscall.Errno(-r)
	}
	return int(r), nil
}

// msg returns a copy of received datagram i and its IPv4 source.
func (c *cBatch) msg(i int) ([]byte, netip.AddrPort) {
	p := C.GoBytes(unsafe.Pointer(C.cb_buf(c.b, C.int(i))), C.int(C.cb_len(c.b, C.int(i))))
	var from netip.AddrPort
	if C.cb_namelen(c.b, C.int(i)) >= C.sizeof_struct_sockaddr_in {
		sin := C.cb_name4(c.b, C.int(i))
		raw := (*[16]byte)(unsafe.Pointer(sin))
		if binary.NativeEndian.Uint16(raw[0:2]) == syscall.AF_INET {
			from = netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[4:8])), binary.BigEndian.Uint16(raw[2:4]))
		}
	}
	return p, from
}

// setDest makes every header of a send batch carry size payload bytes to
// the IPv4 destination dst.
func (c *cBatch) setDest(dst netip.AddrPort, size int) {
	a := dst.Addr().As4()
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], dst.Port())
	C.cb_set_dest(c.b, C.uint(binary.NativeEndian.Uint32(a[:])), C.ushort(binary.NativeEndian.Uint16(port[:])), C.int(size))
}

// send sends want datagrams on fd, vlen per sendmmsg(2), in one cgo call.
func (c *cBatch) send(fd, want int) (int, error) {
	r := C.cb_send(c.b, C.int(fd), C.long(want))
	if r < 0 {
		return 0, errnoOf(r)
	}
	return int(r), nil
}
