#!/usr/bin/env bash
# The project's test command: unit and integration tests of both crates, then
# the conformance run on both targets with its integrity checks (a scenario
# that fails on the Go reference, or a Go test that was PORTED and no longer
# is, fails the run).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace
cargo test --release --workspace
target/release/parity run --target both --check
# Differential fuzzing: malformed client input and hostile configs on natsd
# and the Go reference; fails on a crash, a hang or an unexplained divergence.
if [ -x /usr/sbin/nats-server ]; then
    target/release/parity fuzz-diff --cases 300 --configs 60 --seed 1 --out target/fuzz-diff-ci.md
fi
# Crash safety, short: natsd killed with SIGKILL under JetStream load and
# restarted, 10 times; fails if anything acknowledged is lost or corrupt.
# (reports/crash.md comes from `parity crash` with 200 cycles a server.)
target/release/parity crash --target rust --cycles 10 --seed 1 --out target/crash-ci.md
