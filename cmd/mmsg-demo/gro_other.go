//go:build !linux

package main

import (
	"errors"
	"net"
	"net/netip"
)

// groDefault: UDP GRO is Linux-only, so the GSO+GRO row is off by default.
const groDefault = false

func groSegments(size int) int { return max(1, min(64, 65507/size)) }

func openGRO(rx, tx *net.UDPConn, dst netip.AddrPort, size, segs int) (recv, send ioFunc, err error) {
	return nil, nil, errors.New("UDP GSO and GRO are Linux-only")
}
