package mmsg

import (
	"errors"
	"unsafe"
)

// Windows: WSARecvMsg fills the OOB with WSACMSGHDR records { SIZE_T
// cmsg_len; INT cmsg_level; INT cmsg_type; }, aligned to the pointer size
// (WSA_CMSG_ALIGN), so ParseControl walks them and Message.Control sees
// MSG_CTRUNC, but mmsg decodes none of Windows' own messages yet (its
// IP_PKTINFO is not Linux's struct, its ECN and URO options differ) and
// the builders write none: the Set methods report errors.ErrUnsupported,
// and AppendIPv4TOS, AppendIPv6TrafficClass and AppendPacketInfo append
// nothing. AppendSegmentSize writes its marker for Conn.WriteBatch.

const (
	cmsgLenSize = int(unsafe.Sizeof(uintptr(0)))
	cmsgHdrLen  = cmsgLenSize + 8
	cmsgAlignTo = int(unsafe.Sizeof(uintptr(0)))
	cmsgDataOff = (cmsgHdrLen + cmsgAlignTo - 1) &^ (cmsgAlignTo - 1)

	// msgCtrunc is MSG_CTRUNC of winsock2.h.
	msgCtrunc = 0x0200

	// No time structures are decoded here.
	timeTSize, usecOff, usecSize, nsecOff, nsecSize = 8, 8, 8, 8, 8

	afLink = 0
)

var (
	cmsgTypes   [0]cmsgType
	sendTOS4    sendMsg
	sendTClass6 sendMsg
	sendSrc4    sendMsg
	sendSrc6    sendMsg
)

var rxOptions = [numOpts]rxOption{
	optGRO:        {name: "UDP GRO"},
	optTOS:        {name: "TOS"},
	optPacketInfo: {name: "packet info"},
	optTimestamps: {name: "timestamps"},
	optDrops:      {name: "drop counter"},
}

// setsockoptInt is never called: rxOptions has no socket option here.
func setsockoptInt(fd uintptr, level, name, v int) error { return errors.ErrUnsupported }
