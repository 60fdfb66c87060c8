package mmsg

import "iter"

// Segments returns an iterator over the datagrams of a buffer coalesced
// by UDP GRO: buf is the received payload (Buffers[0][:N]) and size its
// Control.SegmentSize. Each segment is a sub-slice of buf, size bytes
// long but the last, which may be shorter; its capacity ends where it
// does, so appending to it cannot overwrite the next. A size of 0 (a
// datagram that was not coalesced) yields buf whole; an empty buf yields
// nothing. Ranging over Segments allocates nothing.
func Segments(buf []byte, size int) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(buf) > 0 {
			var seg []byte
			seg, buf = NextSegment(buf, size)
			if !yield(seg) {
				return
			}
		}
	}
}

// NextSegment splits the first segment off a coalesced buffer, as
// Segments does: seg is buf[:size] (all of buf if it is shorter or size is
// 0 or less) with its capacity cut to its length, rest what follows.
func NextSegment(buf []byte, size int) (seg, rest []byte) {
	if size <= 0 || size >= len(buf) {
		return buf[:len(buf):len(buf)], buf[len(buf):]
	}
	return buf[:size:size], buf[size:]
}
