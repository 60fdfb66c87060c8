package mmsg

// NewMessages returns n Messages, each with one buffer of bufSize bytes
// and an OOB of oobSize bytes (none if 0), in three allocations in all.
// Negative arguments count as 0.
// For UDP GRO use GROBufferSize and the Conn's OOBSize:
//
//	ms := mmsg.NewMessages(64, mmsg.GROBufferSize, c.OOBSize())
func NewMessages(n, bufSize, oobSize int) []Message {
	n, bufSize, oobSize = max(n, 0), max(bufSize, 0), max(oobSize, 0)
	ms := make([]Message, n)
	bufs := make([][]byte, n)
	data := make([]byte, n*(bufSize+oobSize))
	for i := range ms {
		b, o := i*bufSize, n*bufSize+i*oobSize
		bufs[i] = data[b : b+bufSize : b+bufSize]
		ms[i].Buffers = bufs[i : i+1 : i+1]
		if oobSize > 0 {
			ms[i].OOB = data[o : o+oobSize : o+oobSize]
		}
	}
	return ms
}
