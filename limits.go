package mmsg

// The batch limits, all here and all named max<Thing>.

// MaxSendBatch is the most messages one Sendmmsg call sends, on every OS.
// Linux caps sendmmsg(2) at UIO_MAXIOV (1024) without saying so; mmsg applies
// the same bound on FreeBSD, so that n < len(msgs) means the same everywhere:
// call again with msgs[n:].
const MaxSendBatch = 1024

// maxRecvBatch bounds one Recvmmsg call. recvmmsg's vlen is an unsigned
// int: a longer slice would be truncated by the kernel, not rejected.
// Receiving fewer messages than asked for is always allowed, so longer
// slices are simply cut.
const maxRecvBatch = 1 << 30

// maxReadBatch bounds the messages one Conn.ReadBatch receives, and so the
// size of the kernel header arrays a Conn keeps. (The Conn still names it
// connMaxRead in its own file until its move to this one.)
const maxReadBatch = 1024

// maxIovecs is UIO_MAXIOV on Linux and IOV_MAX on FreeBSD: the most iovecs
// one msghdr may carry. Both kernels answer EMSGSIZE past it.
const maxIovecs = 1024
