// Package xsyslayout checks mmsg's generated layouts against x/sys's own
// unix.Mmsghdr, which the oldest x/sys mmsg supports (its go.mod) does not
// have yet. It is a separate module so that mmsg itself keeps requiring the
// old x/sys while this check uses the newest: its go.mod requires the newest
// x/sys and replaces mmsg with the checkout (../..).
//
// The checks are compile-time assertions (layout_linux.go), so
// `GOOS=linux GOARCH=$a go vet ./...` fails for a wrong ztypes_linux_$a.go;
// this is also what proves the loong64 file, which mkall.sh derives from the
// riscv64 output. layout_linux_test.go compares the two types field by field
// at run time. .ci/test-matrix.sh vets this module for every Linux and
// FreeBSD GOARCH (for FreeBSD, vetting compiles mmsg's own layout_freebsd.go
// checks against the newest x/sys's unix.Msghdr) and runs its test for every
// Linux GOARCH (natively or under qemu-user):
//
//	cd .ci/xsyslayout && GOOS=linux GOARCH=loong64 go vet ./... && go test ./...
package xsyslayout
