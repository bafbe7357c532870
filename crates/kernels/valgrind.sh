#!/usr/bin/env bash
# Runs the kernels crate's tests (unit tests and tests/numerics.rs, release build) under
# valgrind's memcheck: any read of uninitialised memory that decides a branch, an address or a
# syscall, any invalid read or write, and any bad free is an error, and the script fails.
# Two rayon threads, so the per-thread work splitting runs as in training; valgrind runs them
# one at a time (about a minute and a half in all). valgrind 3.19 runs the AVX2 + FMA paths
# (it reports both features to the program). Memcheck flags uninitialised values only where
# they decide a branch, an address or a syscall, not in plain arithmetic; it complements,
# but is not, Miri (which cannot be installed on this project's machines).
set -euo pipefail
cd "$(dirname "$0")/../.."
exes=$(cargo test -p kernels --release --no-run --message-format=json \
    | grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
[ -n "$exes" ] || { echo "no test executables found" >&2; exit 1; }
for exe in $exes; do
    echo "== $exe"
    RAYON_NUM_THREADS=2 valgrind --error-exitcode=1 --leak-check=no "$exe" --test-threads=1
done
echo "valgrind memcheck: no errors"
