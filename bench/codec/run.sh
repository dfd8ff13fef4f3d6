#!/usr/bin/env bash
# run.sh — the codec benchmark: portico's codec against libprotobuf 3.21 (C++) on identical inputs.
#
#   bench/codec/run.sh [BUILD_DIR] [--rounds N] [--ms MS] [--cpu N] [--callgrind]
#
# Uses the programs already built in BUILD_DIR (default $PORTICO_BUILD_DIR, else ./build); it builds
# nothing. Build a Release tree without sanitizers first, e.g.
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel -j
#   bench/codec/run.sh build-rel
# Steps: bench_codec_libprotobuf writes the inputs (a ~100 B portico.test.Small and a ~50 KB
# portico.test.Everything, wire bytes and libprotobuf's JSON of them); both programs then check
# each other (libprotobuf reads portico's JSON and binary back to the same message, portico reads
# libprotobuf's JSON back to the same message); only then is anything timed. Every case
# (size x direction x implementation) runs --rounds times, interleaved, pinned to one CPU with
# taskset; the table shows medians. MB/s counts the JSON bytes of the case (the output of p2j,
# the input of j2p), which are the same for every implementation.
# libprotobuf is measured two ways: "stream" (util::BinaryToJsonString / JsonToBinaryString, its
# fastest wire<->JSON path) and "message" (ParseFromString + MessageToJsonString, and
# JsonStringToMessage + SerializeToString). The ratio column is portico's speed over that row's.
# --callgrind adds instructions per message (valgrind --tool=callgrind, counting only bench_loop).
set -euo pipefail

build=${PORTICO_BUILD_DIR:-build}
rounds=5
ms=300
cpu=0
callgrind=0
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --ms) ms=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --callgrind) callgrind=1; shift ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build=$1; shift ;;
    esac
done
if [ "$rounds" -lt 1 ] || [ "$ms" -lt 1 ]; then
    echo "error: --rounds and --ms must be positive" >&2
    exit 2
fi

P=$build/bench/codec/bench_codec_portico
L=$build/bench/codec/bench_codec_libprotobuf
SET=$build/descriptors/codec_test.pb
for f in "$P" "$L" "$SET"; do
    if [ ! -e "$f" ]; then
        echo "error: $f not found; build first: cmake --build $build --target bench_codec_portico bench_codec_libprotobuf" >&2
        exit 1
    fi
done
cache=$build/CMakeCache.txt
if [ -f "$cache" ]; then
    btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache")
    if [ "$btype" != "Release" ] || grep -qE '^PORTICO_(SANITIZE|FUZZ):BOOL=ON' "$cache"; then
        echo "WARNING: $build is a ${btype:-unknown} build$(grep -qE '^PORTICO_(SANITIZE|FUZZ):BOOL=ON' "$cache" && echo ' with sanitizers'); the figures below are not meaningful."
        echo
    fi
fi
pin=()
if command -v taskset >/dev/null && taskset -c "$cpu" true 2>/dev/null; then
    pin=(taskset -c "$cpu")
else
    echo "note: not pinned (taskset missing or CPU $cpu unavailable)"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- inputs and cross-checks ------------------------------------------------------------------------
"$L" gen "$SET" "$work"
declare -A type=([small]=portico.test.Small [large]=portico.test.Everything)
for size in small large; do
    t=${type[$size]}
    "$P" convert "$SET" "$t" p2j "$work/$size.pb" "$work/$size.portico.json"
    "$P" convert "$SET" "$t" j2p "$work/$size.json" "$work/$size.portico.pb"
    "$L" check "$SET" "$t" "$work/$size.pb" "$work/$size.portico.json" "$work/$size.portico.pb"
    "$P" check "$SET" "$t" "$work/$size.pb" "$work/$size.json"
done
bytes() { stat -c %s "$1"; }
echo "inputs: small = $(bytes "$work/small.pb") B wire / $(bytes "$work/small.json") B JSON (portico.test.Small)," \
    "large = $(bytes "$work/large.pb") B wire / $(bytes "$work/large.json") B JSON (portico.test.Everything)"
echo "checked: each implementation reads the other's output back to the same message"
echo "timing: $rounds rounds x ${ms} ms per case${pin:+, pinned to CPU $cpu}"
echo

# --- timing -------------------------------------------------------------------------------------------
impls=(portico libprotobuf-stream libprotobuf-message)
input_of() { if [ "$2" = p2j ]; then echo "$work/$1.pb"; else echo "$work/$1.json"; fi; }
run_case() { # run_case IMPL SIZE DIR [ITERS]
    local impl=$1 size=$2 dir=$3 in
    in=$(input_of "$size" "$dir")
    case $impl in
    portico) "${pin[@]}" "$P" time "$SET" "${type[$size]}" "$dir" "$in" "$ms" ${4:+"$4"} ;;
    libprotobuf-stream) "${pin[@]}" "$L" time "$SET" "${type[$size]}" "$dir" "$in" stream "$ms" ${4:+"$4"} ;;
    libprotobuf-message) "${pin[@]}" "$L" time "$SET" "${type[$size]}" "$dir" "$in" message "$ms" ${4:+"$4"} ;;
    esac
}
results=$work/results
: >"$results"
for ((r = 1; r <= rounds; r++)); do
    for size in small large; do
        for dir in p2j j2p; do
            for impl in "${impls[@]}"; do
                read -r iters ns < <(run_case "$impl" "$size" "$dir")
                echo "$size $dir $impl $iters $ns" >>"$results"
            done
        done
    done
    if [ -t 2 ]; then printf '\rround %d/%d done' "$r" "$rounds" >&2; fi
done
if [ -t 2 ]; then printf '\r%*s\r' 30 '' >&2; fi

median_rate() { # median messages/s of one case
    awk -v s="$1" -v d="$2" -v i="$3" '$1 == s && $2 == d && $3 == i { printf "%.6f\n", $4 * 1e9 / $5 }' "$results" |
        sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
declare -A ir
if [ "$callgrind" = 1 ]; then
    if ! command -v valgrind >/dev/null; then
        echo "error: --callgrind needs valgrind" >&2
        exit 1
    fi
    declare -A count=([small]=1000 [large]=10)
    for size in small large; do
        for dir in p2j j2p; do
            for impl in "${impls[@]}"; do
                out=$work/cg.$size.$dir.$impl
                in=$(input_of "$size" "$dir")
                case $impl in
                portico) cmd=("$P" time "$SET" "${type[$size]}" "$dir" "$in" 0 "${count[$size]}") ;;
                libprotobuf-stream) cmd=("$L" time "$SET" "${type[$size]}" "$dir" "$in" stream 0 "${count[$size]}") ;;
                libprotobuf-message) cmd=("$L" time "$SET" "${type[$size]}" "$dir" "$in" message 0 "${count[$size]}") ;;
                esac
                valgrind --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no --toggle-collect=bench_loop \
                    "${cmd[@]}" >/dev/null 2>"$out.log" || { cat "$out.log" >&2; exit 1; }
                total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out" | head -1)
                [ -n "$total" ] || total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out" | head -1)
                ir[$size.$dir.$impl]=$((total / count[$size]))
            done
        done
    done
fi

# --- table ---------------------------------------------------------------------------------------------
header=$(printf '%-6s %-4s %-20s %14s %10s %16s' size dir implementation "messages/s" "MB/s" "portico/this")
[ "$callgrind" = 1 ] && header+=$(printf ' %14s' "instr/message")
echo "$header"
printf '%*s\n' "${#header}" '' | tr ' ' -
for size in small large; do
    json_bytes=$(bytes "$work/$size.json")
    for dir in p2j j2p; do
        base=$(median_rate "$size" "$dir" portico)
        for impl in "${impls[@]}"; do
            rate=$(median_rate "$size" "$dir" "$impl")
            line=$(awk -v s="$size" -v d="$dir" -v i="$impl" -v r="$rate" -v b="$base" -v j="$json_bytes" \
                'BEGIN { printf "%-6s %-4s %-20s %14.0f %10.1f %15.2fx", s, d, i, r, r * j / 1e6, b / r }')
            [ "$callgrind" = 1 ] && line+=$(printf ' %14s' "${ir[$size.$dir.$impl]}")
            echo "$line"
        done
    done
done
echo
echo "p2j = wire bytes -> JSON, j2p = JSON -> wire bytes; medians of $rounds rounds; portico/this > 1 means portico is faster."
