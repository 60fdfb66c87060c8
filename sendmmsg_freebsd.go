package mmsg

// sendBatch sends with sendLoop: FreeBSD has no sendmmsg system call, and
// its libc function is the same loop over sendmsg(2).
func sendBatch(fd int, msgs []Mmsghdr, flags int) (int, error) {
	return sendLoop(fd, msgs, flags)
}
