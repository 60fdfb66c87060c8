//lint:file-ignore U1000 the unexported limits are used on Linux and FreeBSD only

package mmsg

// The batch limits, all here and all named max<Thing>. (The Conn still
// names maxReadBatch connMaxRead in its own file until it moves here.)

// MaxSendBatch is the most messages one Sendmmsg call sends, on every OS.
// Linux caps sendmmsg(2) at UIO_MAXIOV (1024) without saying so; mmsg applies
// the same bound on FreeBSD, so that n < len(msgs) means the same everywhere:
// call again with msgs[n:].
const MaxSendBatch = 1024

// maxRecvBatch bounds one receive call. recvmmsg's vlen is an unsigned int:
// a longer slice would be truncated by the kernel, not rejected. Receiving
// fewer messages than asked for is always allowed, so longer slices are
// simply cut.
const maxRecvBatch = 1 << 30

// maxIovecs is UIO_MAXIOV on Linux and IOV_MAX on FreeBSD: the most iovecs
// one msghdr may carry. Both kernels answer EMSGSIZE past it.
const maxIovecs = 1024

// maxReadBatch bounds the messages one Conn.ReadBatch receives, and so the
// size of its pooled headers: a reader that asks for more gets n < len(ms),
// which is always allowed.
const maxReadBatch = 1024
