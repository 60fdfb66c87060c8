#!/usr/bin/env bash
# Runs the benchmarks of the bench module and prints markdown tables: wall
# and CPU ns per datagram, ratios against the C floor and net.UDPConn,
# allocations and system calls per datagram, and the targets for mmsg.Conn.
#
#   ./bench/run.sh                       # from anywhere; as root on Linux
#   COUNT=10 BENCHTIME=500000x ./run.sh
#   PAIRED=new COUNT=4 ./run.sh          # only the paired send and batch-1 ones
#
# Knobs (environment):
#   COUNT              runs of each benchmark (median taken), default 6
#   BENCHTIME          -benchtime of the timed runs, default 300000x
#                      (one op = one datagram), 1000000x with PAIRED
#   SYSCALL_BENCHTIME  -benchtime of the system-call counting runs, 100000x
#   BENCH              benchmark regexp, default . (e.g. 'Drain')
#   PAIRED             run only paired benchmarks (no system-call counts):
#                      new = SendPaired and Batch1Paired, gso =
#                      GSOFormPaired (the forms of a GSO message's
#                      buffers), all = every paired one (to compare two
#                      versions of the library in one run each)
#   DRAIN_N            datagrams queued per drain round, default 4096
#   SEND_N             datagrams per paired send round, default 2048
#   SEND_SINK          receiver of the paired sends: queue (default) or drop
#   OUT                directory for the raw outputs (default: a temp dir)
#   NO_INSTALL=1       never call apt-get
#   SYSTOOL            perf, strace or none: force how system calls are counted
#
# Needs Linux and root (SO_RCVBUFFORCE for the drain benchmark). Installs
# with apt-get, when missing: gcc (cgo, for the C floor), linux-perf (system
# call counts through the syscalls:sys_enter_* tracepoints) and strace (the
# fallback when those tracepoints are not available).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

COUNT=${COUNT:-6}
case ${PAIRED:-} in
'') ;;
new) BENCH=${BENCH:-'^Benchmark(Send|Batch1)Paired$'} ;;
gso) BENCH=${BENCH:-'^BenchmarkGSOFormPaired$'} ;;
all) BENCH=${BENCH:-'Paired$'} ;;
*)
	echo "run.sh: PAIRED=$PAIRED: want new, gso or all" >&2
	exit 2
	;;
esac
if [[ -n ${PAIRED:-} ]]; then
	BENCHTIME=${BENCHTIME:-1000000x}
fi
BENCHTIME=${BENCHTIME:-300000x}
SYSCALL_BENCHTIME=${SYSCALL_BENCHTIME:-100000x}
BENCH=${BENCH:-.}
DRAIN_N=${DRAIN_N:-4096}
SEND_N=${SEND_N:-2048}
SEND_SINK=${SEND_SINK:-queue}
OUT=${OUT:-$(mktemp -d -t mmsg-bench.XXXXXX)}
mkdir -p "$OUT"

log() { echo "run.sh: $*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}

[[ $(uname -s) == Linux ]] || die "the benchmarks are Linux-only"
command -v go >/dev/null 2>&1 || die "go not found in PATH"
((EUID == 0)) || log "WARNING: not root: BenchmarkDrain will skip (it needs SO_RCVBUFFORCE)"

# ------------------------------------------------------------ prerequisites
missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v perf >/dev/null 2>&1 || missing+=(linux-perf)
command -v strace >/dev/null 2>&1 || missing+=(strace)
if ((${#missing[@]})); then
	if [[ ${NO_INSTALL:-} == 1 ]] || ! command -v apt-get >/dev/null 2>&1 || ((EUID != 0)); then
		log "WARNING: missing ${missing[*]} (not installing: NO_INSTALL=1, no apt-get or not root)"
	else
		log "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >&2
		apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
			log "WARNING: apt-get install failed; going on without ${missing[*]}"
	fi
fi
command -v gcc >/dev/null 2>&1 || log "WARNING: no C compiler: the C floor is skipped"

# ------------------------------------------------------------ timed runs
log "building the test binary (raw outputs in $OUT)"
go test -c -o "$OUT/bench.test" .
procs=$(nproc)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "benchmarks $BENCH: -count $COUNT -benchtime $BENCHTIME -drain.n $DRAIN_N -send.n $SEND_N -send.sink $SEND_SINK, GOMAXPROCS=$procs, load average $load_before"
GOMAXPROCS=$procs "$OUT/bench.test" -test.run '^$' -test.bench "$BENCH" -test.benchmem \
	-test.count "$COUNT" -test.benchtime "$BENCHTIME" -drain.n "$DRAIN_N" \
	-send.n "$SEND_N" -send.sink "$SEND_SINK" | tee "$OUT/bench.txt" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
grep -q '^Benchmark' "$OUT/bench.txt" || die "no benchmark results"

# ------------------------------------------------------------ system calls
recv_calls=(recvmmsg recvmsg recvfrom)
send_calls=(sendmmsg sendmsg sendto)
systool=none
if [[ -n ${SYSTOOL:-} ]]; then
	systool=$SYSTOOL
elif perf stat -e syscalls:sys_enter_recvmmsg true >/dev/null 2>&1; then
	systool=perf
elif command -v strace >/dev/null 2>&1; then
	systool=strace
	log "perf syscall tracepoints unavailable: counting with strace -c -f (slower)"
else
	log "WARNING: neither perf tracepoints nor strace: no system call counts"
fi

# count KIND NAME: prints "KIND/NAME CALLS DATAGRAMS".
count() {
	local kind=$1 name=$2 calls=() c
	if [[ $kind == Drain ]]; then calls=("${recv_calls[@]}"); else calls=("${send_calls[@]}"); fi
	rm -f "$OUT/tally" "$OUT/sys.out"
	local cmd=("$OUT/bench.test" -test.run '^$' -test.bench "^Benchmark$kind\$/^$name\$"
		-test.benchtime "$SYSCALL_BENCHTIME" -drain.n "$DRAIN_N")
	if [[ $systool == perf ]]; then
		local ev=()
		for c in "${calls[@]}"; do ev+=(-e "syscalls:sys_enter_$c"); done
		MMSG_BENCH_TALLY=$OUT/tally GOMAXPROCS=$procs perf stat -x, -o "$OUT/sys.out" "${ev[@]}" "${cmd[@]}" >/dev/null
		total=$(awk -F, '$3 ~ /^syscalls:/ { s += $1 } END { print s + 0 }' "$OUT/sys.out")
	else
		local list
		list=$(
			IFS=,
			echo "${calls[*]}"
		)
		MMSG_BENCH_TALLY=$OUT/tally GOMAXPROCS=$procs strace -f -c -q -o "$OUT/sys.out" -e "trace=$list" "${cmd[@]}" >/dev/null
		total=$(awk -v l="$list" 'BEGIN { n = split(l, a, ","); for (i = 1; i <= n; i++) want[a[i]] = 1 }
			($NF in want) { s += $4 } END { print s + 0 }' "$OUT/sys.out")
	fi
	[[ -s $OUT/tally ]] || return 0 # skipped (e.g. the C floor without cgo)
	echo "$kind/$name $total $(awk '{ s += $2 } END { print s }' "$OUT/tally")"
}

: >"$OUT/syscalls.txt"
if [[ $systool != none ]]; then
	suffix=""
	((procs > 1)) && suffix="-$procs"
	# The sub-benchmark names, in order, from the timed runs.
	awk '/^Benchmark(Drain|Send)\// && !seen[$1]++ { print $1 }' "$OUT/bench.txt" | while read -r full; do
		full=${full#Benchmark}
		full=${full%"$suffix"}
		log "counting system calls ($systool): $full"
		count "${full%%/*}" "${full#*/}" >>"$OUT/syscalls.txt"
	done
fi

# ------------------------------------------------------------ report
echo
echo "## mmsg benchmarks: $(go version | cut -d' ' -f3), $(uname -sr), $procs CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo
echo "Load average (1, 5, 15 min) $load_before before the timed runs, $load_after after."
echo
go run ./internal/report -procs "$procs" -syscalls "$OUT/syscalls.txt" -systool "$systool" "$OUT/bench.txt"
