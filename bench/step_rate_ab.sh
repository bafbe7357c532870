#!/usr/bin/env bash
# The training-step rate of two commits side by side: builds the model crate's `train_step_rate`
# at each (in temporary worktrees sharing this checkout's target directory) and runs them in
# alternating passes, so both see the same machine load. Never run by the tests or CI.
#
#   bench/step_rate_ab.sh BEFORE [AFTER] [passes] [nets]
#       AFTER: default HEAD; passes: default 5; nets: default caffe2,lenet5,cnn-dropout,mlp
#
# Prints each pass's images/s (the kernels = "custom" op set, which the configs use) and the
# median per commit and network.
set -euo pipefail
cd "$(dirname "$0")/.."

before=$(git rev-parse --short "${1:?usage: bench/step_rate_ab.sh BEFORE [AFTER] [passes] [nets]}")
after=$(git rev-parse --short "${2:-HEAD}")
passes=${3:-5}
nets=${4:-caffe2,lenet5,cnn-dropout,mlp}
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
out=$(mktemp -d)
cleanup() {
    for rev in "$before" "$after"; do git worktree remove --force "$out/src-$rev" 2> /dev/null || true; done
    rm -rf "$out"
}
trap cleanup EXIT

for rev in "$before" "$after"; do
    git worktree add -q --detach "$out/src-$rev" "$rev"
    (cd "$out/src-$rev" && CARGO_TARGET_DIR=$target cargo build --release -q -p model --example train_step_rate)
    # Copied at once: the next build writes the same path.
    cp "$target/release/examples/train_step_rate" "$out/bench-$rev"
done

for pass in $(seq "$passes"); do
    for rev in "$before" "$after"; do
        echo "pass $pass, $rev, $(uptime | sed 's/.*load average: /load /')"
        "$out/bench-$rev" --nets "$nets" --rounds 3 --op-reps 0 | sed -n '/^summary/,$p' | tail -n +2 |
            awk -v rev="$rev" '{ print rev, $1, $5 }' | tee -a "$out/rates"
    done
done

echo "median custom images/s over $passes passes:"
printf '%-12s %10s %10s %7s\n' net "$before" "$after" ratio
for net in ${nets//,/ }; do
    a=$(awk -v r="$before" -v n="$net" '$1 == r && $2 == n { print $3 }' "$out/rates" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    b=$(awk -v r="$after" -v n="$net" '$1 == r && $2 == n { print $3 }' "$out/rates" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    printf '%-12s %10s %10s %7s\n' "$net" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
done
