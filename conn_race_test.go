//go:build race && (linux || freebsd)

package mmsg

// connRaceEnabled reports whether the race detector is on: it makes
// sync.Pool drop items at random, so allocation counts are not exact.
const connRaceEnabled = true
