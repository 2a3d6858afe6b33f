#!/usr/bin/env bash
# Rust analytics vs the NumPy/SciPy reference, in one run, on the same recording.
#
# Generates a 60 s, 100 Hz recording with all channels (10 joints, gyro, accel,
# grip), checks that both implementations give the same report (rtol 1e-9), then
# measures analyses per second on one core for each, in production mode (angle
# low-pass on) and in --raw mode, and prints both figures and the ratio.
#
# Usage: bench/compare_analytics.sh [SECONDS_PER_MEASUREMENT]   (default 10)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
secs="${1:-10}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One thread each: the figure is per core, and numpy's BLAS must not fan out.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

rec="$work/recording_60s_100hz.json"
python3 "$here/gen_recording.py" --seconds 60 --fs 100 --seed 11 --out "$rec"
echo "recording: 60 s at 100 Hz, 10 joints + gyro + accel + grip ($(wc -c <"$rec") bytes)"

cd "$root"
cargo build --release -p processing-service --bins --benches --quiet
bin="$root/target/release/processing-service"
bench_bin="$(cargo bench -p processing-service --bench analyze --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "analyze" and m.get("executable"):
        print(m["executable"])')"

for mode in "" "--raw"; do
  label="${mode:-default (8 Hz angle low-pass)}"
  "$bin" analyze "$rec" $mode >"$work/rust.json"
  python3 "$here/glove_metrics.py" analyze "$rec" $mode >"$work/numpy.json"
  python3 "$here/compare_reports.py" "$work/rust.json" "$work/numpy.json" --rtol 1e-9 >/dev/null \
    || { echo "reports differ in mode $label"; python3 "$here/compare_reports.py" "$work/rust.json" "$work/numpy.json"; exit 1; }

  taskset_cmd=()
  if command -v taskset >/dev/null; then taskset_cmd=(taskset -c 0); fi
  rust="$("${taskset_cmd[@]}" "$bench_bin" "$rec" --seconds "$secs" $mode)"
  numpy="$("${taskset_cmd[@]}" python3 "$here/glove_metrics.py" bench "$rec" --seconds "$secs" $mode)"
  python3 - "$label" "$rust" "$numpy" <<'PY'
import json, sys
label, rust, numpy = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
r, n = rust["analyses_per_sec"], numpy["analyses_per_sec"]
print(f"mode: {label}  (reports agree to 1e-9)")
print(f"  rust : {r:10.1f} analyses/s/core  ({1e3 / r:8.3f} ms each, {rust['runs']} runs in {rust['seconds']:.1f} s; JSON parse {rust['parse_ms']:.1f} ms)")
print(f"  numpy: {n:10.1f} analyses/s/core  ({1e3 / n:8.3f} ms each, {numpy['runs']} runs in {numpy['seconds']:.1f} s)")
print(f"  ratio: {r / n:.1f}x")
PY
done
