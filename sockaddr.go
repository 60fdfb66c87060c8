//go:build linux || freebsd

package mmsg

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockaddrToAddrPort decodes the socket address the kernel wrote into rsa
// (namelen bytes of it), without allocating, in the form package net gives:
// AddrFrom4 for AF_INET, AddrFrom16 (v4-mapped addresses stay mapped) for
// AF_INET6, with the zone net would give for a non-zero scope ID. Anything
// else, or a name too short for its family, is the zero AddrPort.
func sockaddrToAddrPort(rsa *unix.RawSockaddrInet6, namelen uint32) netip.AddrPort {
	switch int(rsa.Family) {
	case unix.AF_INET:
		if namelen < unix.SizeofSockaddrInet4 {
			break
		}
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), getPort(&p.Port))
	case unix.AF_INET6:
		if namelen < unix.SizeofSockaddrInet6 {
			break
		}
		a := netip.AddrFrom16(rsa.Addr)
		if rsa.Scope_id != 0 {
			a = a.WithZone(connZones.name(rsa.Scope_id))
		}
		return netip.AddrPortFrom(a, getPort(&rsa.Port))
	}
	return netip.AddrPort{}
}

// putSockaddr encodes ap as the destination of a send on a socket of the
// given family into rsa and returns the name's length, as package net
// does: on AF_INET an IPv4 or v4-mapped address, on AF_INET6 any address
// (IPv4 becomes v4-mapped; a zone becomes its interface index). Anything
// else is EAFNOSUPPORT, which the kernel would answer too.
func putSockaddr(rsa *unix.RawSockaddrInet6, family int, ap netip.AddrPort) (uint32, error) {
	a := ap.Addr()
	switch family {
	case familyIPv4:
		if !a.Is4() && !a.Is4In6() {
			break
		}
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		*p = unix.RawSockaddrInet4{}
		setSockaddrInet4Len(p)
		p.Family = unix.AF_INET
		putPort(&p.Port, ap.Port())
		p.Addr = a.As4()
		return unix.SizeofSockaddrInet4, nil
	case familyIPv6:
		*rsa = unix.RawSockaddrInet6{}
		setSockaddrInet6Len(rsa)
		rsa.Family = unix.AF_INET6
		putPort(&rsa.Port, ap.Port())
		rsa.Addr = a.As16()
		if z := a.Zone(); z != "" {
			rsa.Scope_id = connZones.index(z)
		}
		return unix.SizeofSockaddrInet6, nil
	}
	return 0, unix.EAFNOSUPPORT
}

// getPort and putPort read and write a port in network byte order.
func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// connZones maps IPv6 scope IDs (interface indexes) to zones (interface
// names) and back, like package net's own cache, which is not exported:
// refreshed at most once a minute, or on a miss at most once a second.
// An index no interface has is written in decimal, as net does, and a zone
// that is neither a known name nor a number gives index 0.
var connZones zoneCache

type zoneCache struct {
	mu      sync.RWMutex
	byIndex map[uint32]string
	byName  map[string]uint32
	fetched time.Time
}

func (z *zoneCache) name(index uint32) string {
	name, ok := z.lookupName(index)
	if !ok && z.update() {
		name, ok = z.lookupName(index)
	}
	if !ok {
		return strconv.FormatUint(uint64(index), 10)
	}
	return name
}

func (z *zoneCache) index(name string) uint32 {
	index, ok := z.lookupIndex(name)
	if !ok && z.update() {
		index, ok = z.lookupIndex(name)
	}
	if !ok {
		n, err := strconv.ParseUint(name, 10, 32)
		if err != nil {
			return 0
		}
		return uint32(n)
	}
	return index
}

func (z *zoneCache) lookupName(index uint32) (string, bool) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	name, ok := z.byIndex[index]
	return name, ok && time.Since(z.fetched) < time.Minute
}

func (z *zoneCache) lookupIndex(name string) (uint32, bool) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	index, ok := z.byName[name]
	return index, ok && time.Since(z.fetched) < time.Minute
}

// update reloads the interface list unless it did so less than a second
// ago, and reports whether it did.
func (z *zoneCache) update() bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if !z.fetched.IsZero() && time.Since(z.fetched) < time.Second {
		return false
	}
	z.fetched = time.Now()
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	z.byIndex = make(map[uint32]string, len(ifs))
	z.byName = make(map[string]uint32, len(ifs))
	for _, ifi := range ifs {
		z.byIndex[uint32(ifi.Index)] = ifi.Name
		z.byName[ifi.Name] = uint32(ifi.Index)
	}
	return true
}
