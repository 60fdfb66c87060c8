package mmsg

// recvBatch receives with recvLoop: FreeBSD has no recvmmsg system call,
// and its libc function is the same loop over recvmsg(2).
func recvBatch(fd int, msgs []Mmsghdr, flags int) (int, error) {
	return recvLoop(fd, msgs, flags)
}
