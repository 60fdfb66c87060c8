#!/usr/bin/env bash
# Runs every check of the project: formatting, vet on all supported
# GOOS/GOARCH pairs, native tests (amd64 with -race, 386), the Linux tests of
# eleven more architectures under qemu-user, FreeBSD test builds, the
# reproducibility of ./mkall.sh, the workflow lint and the bench/ module.
#
#   ./.ci/test-matrix.sh
#
# Needs: a linux/amd64 host, go, gcc (for -race), git, qemu-user, the Debian
# cross compilers used by ./mkall.sh and shellcheck. `.ci/run` installs them
# on Debian/Ubuntu and then runs this script.
#
# Every step runs even if an earlier one failed; the last line is
# "N passed, M failed" and the exit status is non-zero if anything failed.
#
# Knobs (environment): MATRIX_JOBS (qemu architectures tested at once,
# default 2), QEMU_TIMEOUT (seconds per qemu test binary, default 600).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Pinned tool versions.
ACTIONLINT_VERSION=v1.7.12

MATRIX_JOBS=${MATRIX_JOBS:-2}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-600}

# Targets for `go vet`.
VET_TARGETS=(
	linux/386 linux/amd64 linux/arm linux/arm64 linux/loong64
	linux/mips linux/mipsle linux/mips64 linux/mips64le
	linux/ppc64 linux/ppc64le linux/riscv64 linux/s390x
	freebsd/386 freebsd/amd64 freebsd/arm freebsd/arm64 freebsd/riscv64
	darwin/amd64 darwin/arm64
	windows/amd64
	openbsd/amd64
	netbsd/amd64
)
# Linux architectures whose tests run under qemu-user.
QEMU_ARCHES=(arm arm64 loong64 mips mipsle mips64 mips64le ppc64 ppc64le riscv64 s390x)
# FreeBSD architectures whose test binaries must build.
FREEBSD_ARCHES=(386 amd64 arm arm64 riscv64)

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

step_vet() {
	local t goos goarch failed=() start
	for t in "${VET_TARGETS[@]}"; do
		goos=${t%/*} goarch=${t#*/}
		start=$(now_us)
		# cgo only for the native target; cross targets are vetted without it.
		local cgo=0
		if [[ $t == "$(go env GOHOSTOS)/$(go env GOHOSTARCH)" ]]; then cgo=$(go env CGO_ENABLED); fi
		if GOOS=$goos GOARCH=$goarch CGO_ENABLED=$cgo go vet ./... >"$WORK/vet.log" 2>&1; then
			printf 'ok    %-16s %ss\n' "$t" "$(secs "$start")"
		else
			printf 'FAIL  %-16s %ss\n' "$t" "$(secs "$start")"
			sed 's/^/      /' "$WORK/vet.log"
			failed+=("$t")
		fi
	done
	((${#failed[@]} == 0)) || die "go vet failed for: ${failed[*]}"
}

step_race() {
	host_is_linux_amd64 || die "needs a linux/amd64 host"
	need gcc
	run env CGO_ENABLED=1 go test -race -count=1 ./...
}

step_386() {
	host_is_linux_amd64 || die "needs a linux/amd64 host (386 binaries run natively there)"
	run env GOARCH=386 CGO_ENABLED=0 go test -count=1 ./...
}

qemu_name() {
	case $1 in
	arm) echo qemu-arm ;;
	arm64) echo qemu-aarch64 ;;
	loong64) echo qemu-loongarch64 ;;
	mips) echo qemu-mips ;;
	mipsle) echo qemu-mipsel ;;
	mips64) echo qemu-mips64 ;;
	mips64le) echo qemu-mips64el ;;
	ppc64) echo qemu-ppc64 ;;
	ppc64le) echo qemu-ppc64le ;;
	riscv64) echo qemu-riscv64 ;;
	s390x) echo qemu-s390x ;;
	*) return 1 ;;
	esac
}

# qemu_job ARCH: build and run every package's test binary for linux/ARCH.
# Writes $WORK/qemu/ARCH.{log,res,rc}; .res holds the go-test-like result
# lines, .log everything.
qemu_job() {
	local a=$1 q dir=$WORK/qemu/$1 rc=0
	q=$(qemu_name "$a")
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
		q=$(qemu_name "$a")
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
	mkdir -p "$WORK/bin"
	echo "+ go install github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
	(cd "$WORK" && GOBIN=$WORK/bin GOFLAGS='' go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION")
	if command -v shellcheck >/dev/null 2>&1; then
		echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): checking the workflow's run: scripts and .ci/"
		shellcheck .ci/run .ci/*.sh
	else
		echo "WARNING: shellcheck is not installed: actionlint will not check run: scripts (apt-get install shellcheck)"
	fi
	echo "+ actionlint $wf"
	"$WORK/bin/actionlint" -no-color "$wf"
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
	"go vet ./... (${#VET_TARGETS[@]} GOOS/GOARCH targets):step_vet"
	"go test -race -count=1 ./... (linux/amd64):step_race"
	"GOARCH=386 go test -count=1 ./... (native):step_386"
	"go test under qemu-user (${#QEMU_ARCHES[@]} linux arches):step_qemu"
	"go test -c for freebsd/{${FREEBSD_ARCHES[*]}}:step_freebsd_build"
	"./mkall.sh leaves the checkout unchanged:step_mkall"
	"actionlint $ACTIONLINT_VERSION .github/workflows/ci.yml:step_actionlint"
	"bench/ module: go vet + go test:step_bench"
)

need go
MODULE=$(go list -m)
echo "module $MODULE; $(go version); host $(go env GOHOSTOS)/$(go env GOHOSTARCH); $(nproc 2>/dev/null || echo '?') cores"

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

printf '\n=== summary (%ss total)\n' "$(secs "$matrix_start")"
printf '%s\n' "${results[@]}"
summary="$n_pass passed, $n_fail failed"
((n_skip == 0)) || summary="$summary, $n_skip skipped"
echo "$summary"
((n_fail == 0))
