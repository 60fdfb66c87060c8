#!/usr/bin/env bash
# Runs every check of the project; the steps are listed in STEPS at the end
# and in docs/targets.md ("Tests"), the targets they cover in .ci/targets.
#
#   ./.ci/test-matrix.sh
#
# Needs: a linux/amd64 host, go (>= 1.21, to fetch the pinned toolchains
# from the module proxy), gcc (for -race), git, qemu-user, the Debian cross
# compilers used by ./mkall.sh, shellcheck, and for the real-kernel steps
# (.ci/vmtest) qemu-system-*, dpkg-deb, xz, gpgv with Debian's archive
# keyring, xorriso and a Debian mirror in the apt configuration (or
# DEBIAN_MIRROR). `.ci/run` installs them on Debian/Ubuntu and then runs
# this script.
#
# Every step runs even if an earlier one failed; the last line is
# "N passed, M failed" and the exit status is non-zero if anything failed.
#
# Knobs (environment):
#   MATRIX_ONLY        "WORD ...": run only the steps step_WORD (e.g. "vet api")
#   MATRIX_JOBS        qemu-user architectures, and VMs, at once (default 2)
#   QEMU_TIMEOUT       seconds per qemu-user test binary (default 600)
#   VM_KERNELS_ONLY    the kernels of the Linux VM step (default linux: every
#                      Linux row of VM_KERNELS in .ci/targets; or names,
#                      comma-separated)
#   VM_RUNS            runs of every test binary on every Linux kernel
#                      (default 1)
#   VM_TIMEOUT         seconds per VM run of one test binary (default 600;
#                      the binary's -test.timeout is 90 s less, so that a
#                      hang ends in a goroutine dump)
#   VM_TEST_ARGS       more arguments for the VM test binaries
#                      (e.g. -test.run=... or -test.skip=...)
#   DEBIAN_MIRROR      the Debian archive the kernels come from (default:
#                      the Debian mirror of the host's apt configuration)
#   FREEBSD_KERNEL     a FreeBSD amd64 kernel with a PVH entry (default:
#                      ${XDG_CACHE_HOME:-$HOME/.cache}/mmsg/vm/freebsd/kernel;
#                      the FreeBSD VM step is skipped when there is none)
#   FREEBSD_RUNS       how many times the FreeBSD VM step runs the suite
#                      (default 3; a binary that hangs is not run again)
#   FREEBSD_TIMEOUT    seconds per FreeBSD VM run of one test binary
#                      (default 900)
#   FREEBSD_TEST_ARGS  more arguments for the FreeBSD test binaries
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=.ci/targets
. .ci/targets

MATRIX_JOBS=${MATRIX_JOBS:-2}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-600}
# in_list WORD LIST...: whether WORD is one of LIST.
in_list() {
	local w=$1 x
	shift
	for x in "$@"; do
		[[ $x == "$w" ]] && return 0
	done
	return 1
}

VM_KERNELS_ONLY=${VM_KERNELS_ONLY:-linux}
VM_RUNS=${VM_RUNS:-1}
VM_TIMEOUT=${VM_TIMEOUT:-600}
FREEBSD_RUNS=${FREEBSD_RUNS:-3}
FREEBSD_TIMEOUT=${FREEBSD_TIMEOUT:-900}

mapfile -t VET_TARGETS < <(vet_targets)
mapfile -t LINUX_ARCHES < <(linux_arches)
mapfile -t VM_LINUX_ARCHES < <(vm_goarches linux)
mapfile -t VM_LINUX_KERNELS < <(vm_kernels linux)
mapfile -t VM_FREEBSD_ARCHES < <(vm_goarches freebsd)
# The whole suite runs under qemu-user only where no real kernel runs it.
QEMU_ARCHES=()
for a in "${LINUX_ARCHES[@]}"; do
	if [[ $(linux_field "$a" 3) != - ]] && ! in_list "$a" "${VM_LINUX_ARCHES[@]}"; then QEMU_ARCHES+=("$a"); fi
done

WORK=$(mktemp -d -t mmsg-matrix.XXXXXX)
cleanup() {
	local pids
	pids=$(jobs -p)
	if [[ -n $pids ]]; then
		# shellcheck disable=SC2086 # word splitting wanted: one pid per word
		kill $pids 2>/dev/null || true
		wait 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
# secs START_US: seconds since START_US with one decimal.
secs() {
	local d=$(($(now_us) - $1))
	printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}
# run CMD...: print the command, then run it.
run() {
	echo "+ $*"
	"$@"
}
die() {
	echo "FAIL: $*" >&2
	exit 1
}
# skip REASON: mark the current step as skipped (call as `skip ...; return`).
skip() {
	echo "SKIP: $*"
	echo "$*" >"$WORK/skipped"
}
is_git_checkout() {
	command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1
}
# Files of the checkout: tracked plus untracked-but-not-ignored (so that a
# working tree with new files is checked the same way as a clean clone).
# Without git: every file outside .git.
list_files() {
	if is_git_checkout; then
		git ls-files -z --cached --others --exclude-standard -- "$@"
	else
		local args=() p
		for p in "$@"; do args+=(-o -name "$p"); done
		if ((${#args[@]})); then
			find . -path ./.git -prune -o -type f \( "${args[@]:1}" \) -print0 | sed -z 's|^\./||'
		else
			find . -path ./.git -prune -o -type f -print0 | sed -z 's|^\./||'
		fi
	fi
}
need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "'$c' not found in PATH (run .ci/run to install the prerequisites)"
	done
}
host_is_linux_amd64() {
	[[ "$(go env GOHOSTOS)/$(go env GOHOSTARCH)" == linux/amd64 ]]
}
# Packages of the main module: "importpath<TAB>dir" lines.
list_packages() {
	go list -f '{{.ImportPath}}{{"\t"}}{{.Dir}}' ./...
}
# bin_name IMPORTPATH: a file name for the package's test binary.
bin_name() {
	local p=${1#"$MODULE"}
	p=${p#/}
	p=${p//\//_}
	echo "${p:-$(basename "$MODULE")}"
}

# Directories of every module of the checkout (".", bench, .ci/xsyslayout,
# ...), one per line.
list_modules() {
	local f
	while IFS= read -r -d '' f; do
		dirname "$f"
	done < <(list_files '*go.mod' | tr '\0' '\n' | grep -E '(^|/)go\.mod$' | sort | tr '\n' '\0')
}
# install_tool NAME MODULE@VERSION: go install into $WORK/bin, outside the
# checkout's module (so go.mod is never touched); sets TOOL to its path.
install_tool() {
	mkdir -p "$WORK/bin"
	if [[ ! -x $WORK/bin/$1 ]]; then
		echo "+ go install $2"
		(cd "$WORK" && GOBIN=$WORK/bin GOFLAGS='' go install "$2")
	fi
	TOOL=$WORK/bin/$1
}
# vmtest: build .ci/vmtest (the VM test runner, docs/kernels.md) once; sets
# VMTEST to its path.
vmtest() {
	mkdir -p "$WORK/bin"
	if [[ ! -x $WORK/bin/vmtest ]]; then
		run go build -o "$WORK/bin/vmtest" ./.ci/vmtest
	fi
	VMTEST=$WORK/bin/vmtest
}
# can_exec_386: whether this host executes linux/386 programs (a kernel
# without IA32 emulation answers ENOEXEC): a tiny static one is tried.
can_exec_386() {
	local d=$WORK/probe386
	mkdir -p "$d"
	printf 'package main\n\nfunc main() {}\n' >"$d/main.go"
	printf 'module probe\n\ngo 1.21\n' >"$d/go.mod"
	(cd "$d" && GOOS=linux GOARCH=386 CGO_ENABLED=0 GOFLAGS='' go build -o probe .) || return 1
	"$d/probe" 2>"$d/err"
}

# ---------------------------------------------------------------- steps

step_gofmt() {
	need gofmt
	local files=() f
	while IFS= read -r -d '' f; do
		if [[ -f $f ]]; then files+=("$f"); fi
	done < <(list_files '*.go')
	((${#files[@]})) || die "no .go files found"
	echo "checking ${#files[@]} files"
	local out
	out=$(gofmt -l "${files[@]}")
	if [[ -n $out ]]; then
		printf '  %s\n' "${out//$'\n'/$'\n'  }"
		die "these files are not gofmt-formatted (fix with: gofmt -w FILE)"
	fi
}

# Every module's go.mod and go.sum must be what `go mod tidy` makes of them
# (-diff: nothing is written; Go >= 1.23).
step_tidy() {
	local m failed=()
	while IFS= read -r m; do
		echo "+ (cd $m && go mod tidy -diff)"
		if ! (cd "$m" && go mod tidy -diff); then
			failed+=("$m")
		fi
	done < <(list_modules)
	((${#failed[@]} == 0)) || die "go mod tidy would change: ${failed[*]} (run go mod tidy there and commit)"
}

step_vet() {
	local t goos goarch failed=() start host
	host="$(go env GOHOSTOS)/$(go env GOHOSTARCH)"
	for t in "${VET_TARGETS[@]}"; do
		goos=${t%/*} goarch=${t#*/}
		start=$(now_us)
		# cgo only for the native target; cross targets are vetted without it.
		local cgo=0 pkgs=(./...) cmd=(vet) note=
		if [[ $t == "$host" ]]; then
			cgo=$(go env CGO_ENABLED)
			pkgs+=(./.ci/apicheck ./.ci/vmtest)
		fi
		# The VMs' PID 1.
		if [[ $goos == linux || $goos == freebsd ]]; then pkgs+=(./.ci/vmtest/vminit); fi
		if in_list "$t" "${CGO_LINK_TARGETS[@]}"; then
			# go vet refuses these without a C toolchain for the target:
			# compile the library packages instead (no linking).
			cmd=(build -buildmode=archive -o /dev/null)
			note=" (go ${cmd[*]})"
			mapfile -t pkgs < <(GOOS=$goos GOARCH=$goarch CGO_ENABLED=0 go list -f '{{if ne .Name "main"}}{{.ImportPath}}{{end}}' ./... 2>/dev/null | grep .)
		fi
		if GOOS=$goos GOARCH=$goarch CGO_ENABLED=$cgo go "${cmd[@]}" "${pkgs[@]}" >"$WORK/vet.log" 2>&1; then
			printf 'ok    %-16s %ss%s\n' "$t" "$(secs "$start")" "$note"
		else
			printf 'FAIL  %-16s %ss%s\n' "$t" "$(secs "$start")" "$note"
			sed 's/^/      /' "$WORK/vet.log"
			failed+=("$t")
		fi
	done
	((${#failed[@]} == 0)) || die "go vet failed for: ${failed[*]}"
}

step_staticcheck() {
	install_tool staticcheck "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	local sc=$TOOL goos failed=()
	"$sc" -version
	for goos in "${STATICCHECK_GOOS[@]}"; do
		local pkgs=(./...)
		[[ $goos != linux ]] || pkgs+=(./.ci/apicheck ./.ci/vmtest/...)
		[[ $goos != freebsd ]] || pkgs+=(./.ci/vmtest/vminit)
		echo "+ GOOS=$goos staticcheck ${pkgs[*]}"
		GOOS=$goos CGO_ENABLED=0 "$sc" "${pkgs[@]}" || failed+=("$goos")
	done
	# The other modules: natively (bench builds for Linux only, with cgo).
	local m
	while IFS= read -r m; do
		[[ $m != . ]] || continue
		echo "+ (cd $m && staticcheck ./...)"
		(cd "$m" && "$sc" ./...) || failed+=("$m")
	done < <(list_modules)
	((${#failed[@]} == 0)) || die "staticcheck reports problems for: ${failed[*]}"
}

# The exported API must be the same on every GOOS (issue 9); see
# .ci/apicheck/main.go.
step_api() {
	run go test -count=1 ./.ci/apicheck
	run go run ./.ci/apicheck "${API_TARGETS[@]}"
}

# The floor (go.mod's go line and x/sys) with the newest Go patch release of
# that line, for real: the native tests.
step_floor() {
	echo "go.mod: $(go list -m -f '{{.GoVersion}}' ) and $(go list -m -f '{{.Path}} {{.Version}}' golang.org/x/sys)"
	run env GOTOOLCHAIN="$FLOOR_GO" go version
	run env GOTOOLCHAIN="$FLOOR_GO" go vet ./...
	run env GOTOOLCHAIN="$FLOOR_GO" go test -count=1 ./...
}

# The newest Go and the newest x/sys (the one .ci/xsyslayout/go.mod
# requires): native tests and vet on the main GOOS, through a temporary copy
# of go.mod and go.sum (-modfile), so the committed ones stay as they are.
step_newest() {
	local xsys dir=$WORK/newest
	xsys=$(cd .ci/xsyslayout && go list -m -f '{{.Version}}' golang.org/x/sys)
	mkdir -p "$dir"
	cp go.mod "$dir/go.mod"
	cp go.sum "$dir/go.sum"
	local g=(env GOTOOLCHAIN="$NEWEST_GO" GOFLAGS=-modfile="$dir/go.mod")
	run "${g[@]}" go version
	run "${g[@]}" go get "golang.org/x/sys@$xsys"
	"${g[@]}" go list -m -f '{{.Path}} {{.Version}}' golang.org/x/sys
	local goos
	for goos in "${STATICCHECK_GOOS[@]}"; do
		run "${g[@]}" GOOS="$goos" CGO_ENABLED=0 go vet ./...
	done
	run "${g[@]}" go test -count=1 ./...
}

# A consumer at the floor (go 1.23, x/sys v0.32.0, like wireguard-go) adds
# mmsg: `go mod tidy` must leave its go and x/sys lines as they were. (x/sys
# v0.32.0 itself says go 1.23.0, so tidy writes "go 1.23" as "go 1.23.0" with
# or without mmsg: the lines are compared with the consumer's own tidy
# before it adds mmsg.)
step_consumer() {
	local dir=$WORK/consumer floor_xsys=v0.32.0 root
	root=$(pwd)
	mkdir -p "$dir"
	cat >"$dir/go.mod" <<-MOD
		module example.com/consumer

		go 1.23

		require golang.org/x/sys $floor_xsys
	MOD
	cat >"$dir/main.go" <<-'GO'
		package main

		import "golang.org/x/sys/unix"

		func main() { println(unix.Getpagesize()) }
	GO
	local floor=(env GOTOOLCHAIN="$FLOOR_GO" GOFLAGS=)
	(cd "$dir" && "${floor[@]}" go mod tidy)
	# modlines: the go, toolchain and x/sys lines, whether x/sys is in a
	# require block or not.
	modlines() {
		sed -nE -e 's/^(go|toolchain)[[:space:]]+([^[:space:]]+).*/\1 \2/p' \
			-e 's/^(require)?[[:space:]]*golang\.org\/x\/sys[[:space:]]+([^[:space:]]+).*/require golang.org\/x\/sys \2/p' "$1"
	}
	local before
	before=$(modlines "$dir/go.mod")
	echo "consumer before adding mmsg (after its own go mod tidy):"
	printf '  %s\n' "${before//$'\n'/$'\n'  }"
	cat >"$dir/main.go" <<-'GO'
		package main

		import (
			"github.com/go-mmsg/mmsg"
			"golang.org/x/sys/unix"
		)

		func main() { println(unix.Getpagesize(), mmsg.MaxSendBatch) }
	GO
	(cd "$dir" && "${floor[@]}" go mod edit -require="$MODULE@v0.0.0" -replace="$MODULE=$root" &&
		"${floor[@]}" go mod tidy && "${floor[@]}" go build -o /dev/null .)
	local after
	after=$(modlines "$dir/go.mod")
	echo "consumer after requiring mmsg and go mod tidy:"
	printf '  %s\n' "${after//$'\n'/$'\n'  }"
	[[ $before == "$after" ]] || die "requiring mmsg changed the consumer's go or x/sys line"
}

# The layouts against the newest x/sys's unix.Mmsghdr (.ci/xsyslayout): vet
# (compile-time assertions) for every Linux and FreeBSD GOARCH, the run-time
# test for every Linux GOARCH, natively or under qemu-user.
step_xsyslayout() {
	local m=.ci/xsyslayout a failed=() q bin
	for a in "${LINUX_ARCHES[@]}"; do
		if ! (cd "$m" && GOOS=linux GOARCH=$a CGO_ENABLED=0 go vet ./...); then
			failed+=("vet linux/$a")
			continue
		fi
		bin=$WORK/xsyslayout.$a.test
		if ! (cd "$m" && GOOS=linux GOARCH=$a CGO_ENABLED=0 go test -c -o "$bin" .); then
			failed+=("build linux/$a")
			continue
		fi
		local emu=() q out k how=native
		q=$(linux_field "$a" 3)
		if [[ $q != - ]]; then
			emu=(timeout "$QEMU_TIMEOUT" "$q") how=$q
		elif [[ $a == 386 ]] && ! can_exec_386; then
			# This host cannot execute 386 code: on the 32-bit kernel.
			k=$(vm_kernels linux | grep -m1 '^386')
			vmtest
			emu=("$VMTEST" run -k "$k" -t "$VM_TIMEOUT" -p .) how="VM $k"
		else
			emu=(timeout "$QEMU_TIMEOUT")
		fi
		if out=$(cd "$m" && "${emu[@]}" "$bin" -test.count=1 -test.v 2>&1); then
			printf 'ok    linux/%-9s %s: %s\n' "$a" "$how" "$(grep -c -- '--- PASS' <<<"$out") tests passed"
		else
			printf 'FAIL  linux/%-9s %s\n%s\n' "$a" "$how" "$out"
			failed+=("test linux/$a")
		fi
	done
	for a in "${FREEBSD_ARCHES[@]}"; do
		if (cd "$m" && GOOS=freebsd GOARCH=$a CGO_ENABLED=0 go vet ./...); then
			printf 'ok    freebsd/%-7s vet\n' "$a"
		else
			failed+=("vet freebsd/$a")
		fi
	done
	((${#failed[@]} == 0)) || die "layouts vs the newest x/sys: ${failed[*]}"
}

step_race() {
	host_is_linux_amd64 || die "needs a linux/amd64 host"
	need gcc
	run env CGO_ENABLED=1 go test -race -count=1 ./...
}

# linux/386 natively, where the host can execute it; the VM step runs it
# on a 32-bit kernel in any case.
step_386() {
	host_is_linux_amd64 || die "needs a linux/amd64 host (386 binaries run natively there)"
	if ! can_exec_386; then
		skip "this host cannot execute linux/386 programs ($(head -c 200 "$WORK/probe386/err" | tr '\n' ' ')); linux/386 runs on the 32-bit kernel of the VM step ($(vm_kernels linux | grep '^386' | tr '\n' ' '| sed 's/ $//'))"
		return
	fi
	run env GOARCH=386 CGO_ENABLED=0 go test -count=1 ./...
}

# qemu_job ARCH: build and run every package's test binary for linux/ARCH.
# Writes $WORK/qemu/ARCH.{log,res,rc}; .res holds the go-test-like result
# lines, .log everything.
qemu_job() {
	local a=$1 q dir=$WORK/qemu/$1 rc=0
	q=$(linux_field "$a" 3)
	mkdir -p "$dir"
	{
		local pkg pdir bin start out
		while IFS=$'\t' read -r pkg pdir; do
			bin=$dir/$(bin_name "$pkg").$a.test
			start=$(now_us)
			echo "+ GOOS=linux GOARCH=$a CGO_ENABLED=0 go test -c -o $bin $pkg"
			if ! GOOS=linux GOARCH=$a CGO_ENABLED=0 go test -c -o "$bin" "$pkg"; then
				printf 'FAIL\t%s [linux/%s: build failed]\n' "$pkg" "$a" >>"$dir.res"
				rc=1
				continue
			fi
			out="build $(secs "$start")s"
			if [[ ! -e $bin ]]; then
				printf '?   \t%s\t[linux/%s: no test files]\n' "$pkg" "$a" >>"$dir.res"
				continue
			fi
			start=$(now_us)
			echo "+ (cd $pdir && MMSG_QEMU=1 timeout $QEMU_TIMEOUT $q $bin -test.count=1 -test.v=false)"
			local trc=0
			(cd "$pdir" && MMSG_QEMU=1 timeout "$QEMU_TIMEOUT" "$q" "$bin" -test.count=1 -test.v=false) || trc=$?
			if ((trc == 124)); then echo "*** killed: still running after ${QEMU_TIMEOUT}s"; fi
			out="$out, run $(secs "$start")s"
			if ((trc == 0)); then
				printf 'ok  \t%s\t[linux/%s via %s: %s]\n' "$pkg" "$a" "$q" "$out" >>"$dir.res"
			else
				if ((trc == 124)); then out="$out, TIMED OUT after ${QEMU_TIMEOUT}s"; fi
				printf 'FAIL\t%s\t[linux/%s via %s: exit %d, %s]\n' "$pkg" "$a" "$q" "$trc" "$out" >>"$dir.res"
				rc=1
			fi
		done <"$WORK/packages"
	} >"$dir.log" 2>&1 || rc=1
	echo "$rc" >"$dir.rc"
}

step_qemu() {
	host_is_linux_amd64 || die "needs a linux/amd64 host"
	local a q missing=()
	for a in "${QEMU_ARCHES[@]}"; do
		q=$(linux_field "$a" 3)
		command -v "$q" >/dev/null 2>&1 || missing+=("$q")
	done
	((${#missing[@]} == 0)) || die "missing ${missing[*]} (Debian/Ubuntu package qemu-user; run .ci/run)"
	mkdir -p "$WORK/qemu"
	list_packages >"$WORK/packages"
	echo "packages: $(cut -f1 "$WORK/packages" | tr '\n' ' ')"
	echo "architectures: ${QEMU_ARCHES[*]} ($MATRIX_JOBS at a time, MMSG_QEMU=1, timeout ${QEMU_TIMEOUT}s per binary)"

	local reported=() failed=() running=0
	# report_done: print the results of finished, not yet reported arches.
	report_done() {
		local a
		for a in "${QEMU_ARCHES[@]}"; do
			[[ -f $WORK/qemu/$a.rc ]] || continue
			[[ " ${reported[*]} " == *" $a "* ]] && continue
			reported+=("$a")
			if [[ -f $WORK/qemu/$a.res ]]; then cat "$WORK/qemu/$a.res"; fi
			if [[ $(<"$WORK/qemu/$a.rc") != 0 ]]; then
				failed+=("$a")
				echo "----- linux/$a log -----"
				cat "$WORK/qemu/$a.log"
				echo "----- end of linux/$a log -----"
			fi
		done
	}
	for a in "${QEMU_ARCHES[@]}"; do
		while ((running >= MATRIX_JOBS)); do
			wait -n || true
			running=$((running - 1))
			report_done
		done
		qemu_job "$a" &
		running=$((running + 1))
	done
	wait || true
	report_done
	((${#failed[@]} == 0)) || die "tests failed under qemu for: ${failed[*]}"
}

step_freebsd_build() {
	local a pkg pdir bin failed=() start
	list_packages >"$WORK/packages"
	mkdir -p "$WORK/freebsd"
	for a in "${FREEBSD_ARCHES[@]}"; do
		while IFS=$'\t' read -r pkg pdir; do
			bin=$WORK/freebsd/$(bin_name "$pkg").$a.test
			start=$(now_us)
			if GOOS=freebsd GOARCH=$a CGO_ENABLED=0 go test -c -o "$bin" "$pkg" >"$WORK/fbsd.log" 2>&1; then
				printf 'ok    freebsd/%-8s %s %ss\n' "$a" "$pkg" "$(secs "$start")"
			else
				printf 'FAIL  freebsd/%-8s %s %ss\n' "$a" "$pkg" "$(secs "$start")"
				sed 's/^/      /' "$WORK/fbsd.log"
				failed+=("freebsd/$a:$pkg")
			fi
		done <"$WORK/packages"
	done
	((${#failed[@]} == 0)) || die "FreeBSD test build failed for: ${failed[*]}"
}

# Every package's test binary on every Linux kernel of VM_KERNELS
# (.ci/targets), each the only program of a qemu-system VM (.ci/vmtest,
# docs/kernels.md): Debian's kernels, downloaded once into the per-user
# cache. A table per kernel, then one line per failed test and per skip
# reason.
step_vm() {
	host_is_linux_amd64 || die "needs a linux/amd64 host"
	[[ $VM_RUNS =~ ^[1-9][0-9]*$ ]] || die "VM_RUNS=$VM_RUNS is not a positive number"
	run go test -count=1 ./.ci/vmtest
	vmtest
	local more=()
	read -r -a more <<<"${VM_TEST_ARGS:-}"
	run "$VMTEST" test -k "$VM_KERNELS_ONLY" -j "$MATRIX_JOBS" -runs "$VM_RUNS" -t "$VM_TIMEOUT" \
		-args "${more[*]}" ./... || die "tests failed on real Linux kernels (the FAIL lines above)"
}

# The whole suite on a real FreeBSD kernel (issue 7): every package's
# freebsd/amd64 and freebsd/386 test binaries on one amd64 kernel (built
# with COMPAT_FREEBSD32), FREEBSD_RUNS times, through .ci/vmtest. The
# kernel is $FREEBSD_KERNEL or the one in the per-user cache; none ships
# with the project (the GitHub workflow's FreeBSD job runs the tests on
# FreeBSD's own release image instead).
step_freebsd_vm() {
	host_is_linux_amd64 || die "needs a linux/amd64 host"
	[[ $FREEBSD_RUNS =~ ^[1-9][0-9]*$ ]] || die "FREEBSD_RUNS=$FREEBSD_RUNS is not a positive number"
	if ! [[ $FREEBSD_TIMEOUT =~ ^[0-9]+$ ]] || ((FREEBSD_TIMEOUT <= 180)); then
		die "FREEBSD_TIMEOUT=$FREEBSD_TIMEOUT: want more than 180 (seconds)"
	fi
	vmtest
	local why rc=0
	why=$("$VMTEST" path freebsd-amd64 2>&1 >/dev/null) || rc=$?
	if ((rc == 3)); then
		skip "FreeBSD VM suite: ${why#vmtest: }"
		return
	fi
	((rc == 0)) || die "$why"
	need xorriso
	local more=()
	read -r -a more <<<"${FREEBSD_TEST_ARGS:-}"
	run "$VMTEST" test -k freebsd -j "$MATRIX_JOBS" -runs "$FREEBSD_RUNS" -t "$FREEBSD_TIMEOUT" \
		-args "${more[*]}" ./... || die "tests failed on the FreeBSD kernel (the FAIL lines above)"
}
step_mkall() {
	[[ -f mkall.sh ]] || die "mkall.sh not found at the repository root"
	is_git_checkout || {
		skip "not a git checkout: cannot tell whether ./mkall.sh changes committed files"
		return
	}
	# Snapshot the checkout (tracked + untracked, not ignored) so that any
	# change made by mkall.sh is detected even in a dirty working tree.
	# In a clean clone this is the same as `git status --porcelain` being empty.
	local before=$WORK/before
	mkdir -p "$before"
	list_files >"$WORK/files.before"
	tar --null -T "$WORK/files.before" -cf - | tar -xf - -C "$before"
	local start
	start=$(now_us)
	echo "+ ./mkall.sh"
	if [[ -x mkall.sh ]]; then ./mkall.sh; else bash ./mkall.sh; fi
	echo "mkall.sh took $(secs "$start")s"
	list_files >"$WORK/files.after"
	local changed=() f
	while IFS= read -r -d '' f; do
		if [[ ! -f $before/$f ]]; then
			changed+=("$f (new file)")
		elif ! cmp -s "$before/$f" "$f"; then
			changed+=("$f")
		fi
	done <"$WORK/files.after"
	while IFS= read -r -d '' f; do
		[[ -e $f ]] || changed+=("$f (deleted)")
	done <"$WORK/files.before"
	if ((${#changed[@]})); then
		echo "./mkall.sh changed the checkout; commit the regenerated files:"
		printf '  %s\n' "${changed[@]}"
		for f in "${changed[@]}"; do
			f=${f% (*)}
			local old=$before/$f new=$f
			[[ -f $old ]] || old=/dev/null
			[[ -f $new ]] || new=/dev/null
			diff -u --label "a/$f" --label "b/$f" "$old" "$new" || true
		done | head -n 300
		die "./mkall.sh output differs from the checked-in files"
	fi
	echo "./mkall.sh reproduces the committed files"
}

step_actionlint() {
	local wf=.github/workflows/ci.yml
	[[ -f $wf ]] || die "$wf not found"
	install_tool actionlint "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
	local al=$TOOL
	if command -v shellcheck >/dev/null 2>&1; then
		echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): checking the workflow's run: scripts and .ci/"
		shellcheck -x .ci/run .ci/*.sh .ci/targets mkall.sh
	else
		echo "WARNING: shellcheck is not installed: actionlint will not check run: scripts (apt-get install shellcheck)"
	fi
	echo "+ actionlint $wf"
	"$al" -no-color "$wf"
}

step_bench() {
	[[ -f bench/go.mod ]] || {
		skip "no bench/go.mod"
		return
	}
	cd bench
	run go vet ./...
	run go test -count=1 -run . ./...
}

# ---------------------------------------------------------------- main

STEPS=(
	"gofmt -l:step_gofmt"
	"go mod tidy -diff, every module:step_tidy"
	"go vet ./... (${#VET_TARGETS[@]} GOOS/GOARCH targets):step_vet"
	"staticcheck $STATICCHECK_VERSION (GOOS ${STATICCHECK_GOOS[*]}):step_staticcheck"
	"exported API identical on ${#API_TARGETS[@]} GOOS (.ci/apicheck):step_api"
	"consumer at go 1.23 + x/sys v0.32.0 requires mmsg, go mod tidy raises nothing:step_consumer"
	"floor: $FLOOR_GO + go.mod's x/sys, go test ./...:step_floor"
	"newest: $NEWEST_GO + newest x/sys (-modfile), go test ./...:step_newest"
	"layouts vs the newest x/sys's unix.Mmsghdr (.ci/xsyslayout):step_xsyslayout"
	"go test -race -count=1 ./... (linux/amd64):step_race"
	"GOARCH=386 go test -count=1 ./... (native):step_386"
	"go test under qemu-user (linux/{${QEMU_ARCHES[*]}}: no kernel in VM_KERNELS):step_qemu"
	"go test on ${#VM_LINUX_KERNELS[@]} real Linux kernels, qemu-system (.ci/vmtest):step_vm"
	"go test -c for freebsd/{${FREEBSD_ARCHES[*]}}:step_freebsd_build"
	"go test on a real FreeBSD kernel, freebsd/{${VM_FREEBSD_ARCHES[*]}} (.ci/vmtest):step_freebsd_vm"
	"./mkall.sh leaves the checkout unchanged:step_mkall"
	"actionlint $ACTIONLINT_VERSION .github/workflows/ci.yml:step_actionlint"
	"bench/ module: go vet + go test:step_bench"
)
if [[ -n ${MATRIX_ONLY:-} ]]; then
	only=()
	read -r -a words <<<"$MATRIX_ONLY"
	for s in "${STEPS[@]}"; do
		if in_list "${s##*:step_}" "${words[@]}"; then only+=("$s"); fi
	done
	((${#only[@]})) || die "MATRIX_ONLY=$MATRIX_ONLY matches no step"
	STEPS=("${only[@]}")
fi

need go
MODULE=$(go list -m)
echo "module $MODULE; $(go version); host $(go env GOHOSTOS)/$(go env GOHOSTARCH); $(nproc 2>/dev/null || echo '?') cores; load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

total=${#STEPS[@]}
n_pass=0 n_fail=0 n_skip=0
results=()
matrix_start=$(now_us)
i=0
for s in "${STEPS[@]}"; do
	i=$((i + 1))
	name=${s%:*} fn=${s##*:}
	printf '\n=== [%d/%d] %s\n' "$i" "$total" "$name"
	rm -f "$WORK/skipped"
	start=$(now_us)
	set +e
	(
		set -euo pipefail
		"$fn"
	)
	rc=$?
	set -e
	t=$(secs "$start")
	if ((rc != 0)); then
		status=FAIL n_fail=$((n_fail + 1))
	elif [[ -f $WORK/skipped ]]; then
		status=SKIP n_skip=$((n_skip + 1))
	else
		status=PASS n_pass=$((n_pass + 1))
	fi
	printf -- '--- %s [%d/%d] %s (%ss)\n' "$status" "$i" "$total" "$name" "$t"
	results+=("$(printf '%-4s %7ss  [%d/%d] %s' "$status" "$t" "$i" "$total" "$name")")
done

printf '\n=== summary (%ss total; load average now %s)\n' "$(secs "$matrix_start")" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
printf '%s\n' "${results[@]}"
summary="$n_pass passed, $n_fail failed"
((n_skip == 0)) || summary="$summary, $n_skip skipped"
echo "$summary"
((n_fail == 0))
