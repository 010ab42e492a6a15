#!/usr/bin/env bash
# Coverage-guided fuzzing of natsd's parsers (libFuzzer through cargo fuzz):
# the client protocol parser with the CONNECT/INFO JSON decoder, the WebSocket
# frame decoder and upgrade checks, and the
# config parser, all at once for SECONDS each (default one hour), at low
# priority; `scripts/fuzz.sh SECONDS TARGET...` runs only those targets.
# Then writes reports/fuzzing.md from their logs.
# Needs `cargo install cargo-fuzz`; RUSTC_BOOTSTRAP lets the stable toolchain
# build with the sanitizer flags cargo fuzz passes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3700}"
shift || true
targets=("${@:-proto_parse config_parse ws_frames}")
logs=target/fuzz-logs
mkdir -p "$logs"
cd server/fuzz
for target in ${targets[@]}; do
    mkdir -p "corpus/$target"
    RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 > "../../$logs/$target.log" 2>&1 &
done
status=0
wait || status=$?
cd ../..
scripts/fuzz-report.sh "$logs"
exit "$status"
