#!/usr/bin/env bash
# mkall.sh regenerates the ztypes_$GOOS_$GOARCH.go files from the C headers,
# in the manner of x/sys/unix: cgo -godefs on types_$GOOS.go, piped through
# mkpost.go. Usage:
#
#	./mkall.sh                    # on Linux or FreeBSD, from any directory
#	MKALL_INSTALL=1 ./mkall.sh    # as root on Debian: apt-get install the
#	                              # missing cross compilers first
#
# On Linux it writes ztypes_linux_$GOARCH.go for every supported GOARCH with
# Debian's cross compilers. On FreeBSD it writes the files for the host only
# (see below). The output is deterministic: running it twice gives
# byte-identical files. layout_$GOOS.go then checks each generated layout at
# compile time against golang.org/x/sys/unix (and .ci/xsyslayout against the
# newest x/sys's unix.Mmsghdr), so `go vet` for a GOOS/GOARCH fails if a file
# is wrong. The Linux GOARCHes and their cross compilers are in .ci/targets.

set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")"

command -v go >/dev/null || { echo "mkall.sh: go is not on PATH" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# mkpost is built once for the host and run with the target's GOOS/GOARCH in
# its environment: `GOARCH=arm64 go run mkpost.go` would build it for arm64.
env -u GOOS -u GOARCH go build -o "$tmp/mkpost" mkpost.go

# gen GOOS GOARCH CC [CFLAGS...]
# cgo -godefs runs in the temporary directory (it leaves _obj and _cgo_*.o
# in its working directory), on a copy of types_$GOOS.go so that the command
# recorded in the file header holds no path.
gen() {
	local goos=$1 goarch=$2 cc=$3
	shift 3
	local out=ztypes_${goos}_${goarch}.go
	[ $# -gt 0 ] && set -- -- "$@"
	cp "types_${goos}.go" "$tmp/"
	(cd "$tmp" && GOOS=$goos GOARCH=$goarch CC=$cc go tool cgo -godefs "$@" "types_${goos}.go") >"$tmp/godefs"
	GOOS=$goos GOARCH=$goarch "$tmp/mkpost" <"$tmp/godefs" >"$tmp/$out"
	mv "$tmp/$out" "$out"
	echo "$out"
}

case "$(uname -s)" in
Linux)
	# GOARCH -> GNU triplet of the Debian cross compiler -> Debian arch,
	# from .ci/targets; loong64 (no compiler there) is derived below.
	# shellcheck source=.ci/targets
	. .ci/targets
	arches=
	declare -A triplet=() debarch=()
	for a in $(linux_arches); do
		t=$(linux_field "$a" 1)
		[ "$t" = - ] && continue
		arches="$arches $a"
		triplet[$a]=$t
		debarch[$a]=$(linux_field "$a" 2)
	done
	hostarch=$(dpkg --print-architecture 2>/dev/null || true)

	missing=()
	for a in $arches; do
		t=${triplet[$a]}
		command -v "$t-gcc" >/dev/null && continue
		if [ "${debarch[$a]}" = "$hostarch" ]; then
			# The host's own triplet-gcc comes with the native compiler.
			missing+=(gcc libc6-dev)
		else
			missing+=("gcc-${t//_/-}" "libc6-dev-${debarch[$a]}-cross")
		fi
	done
	if [ ${#missing[@]} -gt 0 ]; then
		if [ "${MKALL_INSTALL:-}" = 1 ] && [ "$(id -u)" = 0 ]; then
			apt-get install -y "${missing[@]}" ||
				{ apt-get update && apt-get install -y "${missing[@]}"; }
			for a in $arches; do
				command -v "${triplet[$a]}-gcc" >/dev/null ||
					{ echo "mkall.sh: ${triplet[$a]}-gcc still missing" >&2; exit 1; }
			done
		else
			echo "mkall.sh: cross compilers missing; install them with:" >&2
			echo "	apt-get install ${missing[*]}" >&2
			echo "(or run as root with MKALL_INSTALL=1 to let mkall.sh do it)" >&2
			exit 1
		fi
	fi

	for a in $arches; do
		gen linux "$a" "${triplet[$a]}-gcc" -Wall -Werror
	done

	# loong64: Debian 12 packages no loongarch64 cross compiler, so there are
	# no loong64 headers to run cgo -godefs on here. Rather than write the
	# file by hand, derive it from the riscv64 output: riscv64 and loong64
	# are both LP64 ABIs built on the asm-generic headers, with identical
	# struct msghdr (56 bytes) and struct mmsghdr (64: msg_len at 56, then
	# 4 bytes of tail padding). mkpost labels the file loong64 and says in
	# its header that it is the riscv64 layout. This is not taken on trust:
	# layout_linux.go checks the file at compile time against x/sys's
	# loong64 unix.Msghdr, and the nested module .ci/xsyslayout (which
	# requires a newer x/sys than go.mod) against x/sys's own loong64
	# unix.Mmsghdr and unix.SizeofMmsghdr, which x/sys generated from real
	# loong64 headers: `GOOS=linux GOARCH=loong64 go vet ./...` there fails
	# if the layouts ever differ.
	cp types_linux.go "$tmp/"
	(cd "$tmp" && GOOS=linux GOARCH=riscv64 CC=riscv64-linux-gnu-gcc go tool cgo -godefs -- -Wall -Werror types_linux.go) >"$tmp/godefs"
	GOOS=linux GOARCH=loong64 MKPOST_LAYOUT_GOARCH=riscv64 "$tmp/mkpost" <"$tmp/godefs" >"$tmp/ztypes_linux_loong64.go"
	mv "$tmp/ztypes_linux_loong64.go" ztypes_linux_loong64.go
	echo ztypes_linux_loong64.go
	;;

FreeBSD)
	# As in x/sys, FreeBSD files are generated per host, with the host's
	# headers and cc: ztypes_freebsd_$GOARCH.go for the host's GOARCH, and
	# on amd64 also ztypes_freebsd_386.go with -m32. No -Wall -Werror here:
	# the host cc is clang, not the gcc the Linux files are made with.
	#
	# Of the committed FreeBSD files a FreeBSD amd64 host reproduces
	# ztypes_freebsd_amd64.go and ztypes_freebsd_386.go. The arm, arm64 and
	# riscv64 files come from hosts of those arches; they follow the same
	# header (struct mmsghdr { struct msghdr msg_hdr; ssize_t msg_len; }) on
	# ILP32 (arm, like 386) and LP64 (arm64, riscv64, like amd64), and are
	# pinned by the compile-time assertions in layout_freebsd.go against
	# x/sys's unix.Msghdr for each arch.
	cc=${CC:-cc}
	goarch=$(env -u GOOS -u GOARCH go env GOARCH)
	gen freebsd "$goarch" "$cc"
	if [ "$goarch" = amd64 ]; then
		gen freebsd 386 "$cc" -m32
	fi
	;;

*)
	echo "mkall.sh: unsupported host $(uname -s): run it on Linux (Debian, for" >&2
	echo "the cross compilers) to regenerate ztypes_linux_*.go, or on FreeBSD" >&2
	echo "to regenerate ztypes_freebsd_\$GOARCH.go for that host." >&2
	exit 1
	;;
esac
