//go:build !unix && !windows

package mmsg

import (
	"errors"
	"unsafe"
)

// Systems whose net package passes no control messages (js, wasip1,
// plan9): ParseControl walks a Linux-like cmsghdr layout and decodes
// nothing, the builders other than AppendSegmentSize append nothing, and
// the Set methods report errors.ErrUnsupported.

const (
	cmsgLenSize = int(unsafe.Sizeof(uintptr(0)))
	cmsgHdrLen  = cmsgLenSize + 8
	cmsgAlignTo = int(unsafe.Sizeof(uintptr(0)))
	cmsgDataOff = (cmsgHdrLen + cmsgAlignTo - 1) &^ (cmsgAlignTo - 1)

	msgCtrunc = 0

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
