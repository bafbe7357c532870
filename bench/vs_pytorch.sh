#!/usr/bin/env bash
# Burn (with the custom kernels) against PyTorch on this machine's CPU, alternating the two so both
# see the same load. Needs PyTorch: `pip install torch numpy` (PYTHON picks the interpreter,
# default python3). Never run by the tests or CI.
#
#   bench/vs_pytorch.sh step [passes] [steps] [nets]   training-step rate, random batch of 64
#       nets: comma-separated, of caffe2 (default), lenet5, cnn-dropout, mlp
#   bench/vs_pytorch.sh train [passes]                 the whole configs/lenet.toml command
#       (4 epochs on the real MNIST) against the same training in PyTorch
#
# Each pass prints both figures and their ratio; the end gives the median over the passes.
# Compare on an otherwise idle machine: the load average is printed before every run, and
# PyTorch's OpenMP threads spin while they wait, so with other work on the cores its step rate
# collapses (to a few hundred images/s on 2 busy cores here), which says nothing about its kernels.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import torch, numpy" 2> /dev/null; then
    echo "error: $PYTHON cannot import torch and numpy; install them (pip install torch numpy)" \
         "or point PYTHON at an interpreter that has them" >&2
    exit 1
fi

mode=${1:-step}
passes=${2:-3}
# The binaries are copied here right after building, so a build of another checkout sharing the
# target directory cannot swap them between passes.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
load() { uptime | sed 's/.*load average: /load /'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

case "$mode" in
step)
    steps=${3:-20}
    nets=${4:-caffe2}
    cargo build --release -q -p model --example train_step_rate
    cp "${CARGO_TARGET_DIR:-target}/release/examples/train_step_rate" "$out/"
    bench=$out/train_step_rate
    for net in ${nets//,/ }; do
        rust_rates=() torch_rates=()
        for pass in $(seq "$passes"); do
            echo "=== $net pass $pass: burn, Burn's ops and the custom kernels alternating ($(load))"
            line=$("$bench" --nets "$net" --rounds 5 --steps "$steps" --op-reps 0 | grep '^  median:')
            echo "$line"
            # "median: burn N images/s (...), custom N images/s (...), custom/burn R". The trainer
            # runs the custom kernels for a LeNet and Burn's ops for an MLP (no kernels option).
            ops=custom
            [[ $net == mlp* ]] && ops=burn
            rust=$(echo "$line" | awk -v ops="$ops" '{ for (i = 1; i < NF; i++) if ($i == ops) { print $(i + 1); exit } }')
            echo "=== $net pass $pass: torch ($(load))"
            line=$("$PYTHON" bench/torch_lenet.py step --net "$net" --rounds 5 --steps "$steps" | grep ' median: ')
            echo "  $line"
            torch=$(echo "$line" | awk '{ print $3 }')
            echo "$net pass $pass: burn ($ops ops, as the trainer runs it) $rust images/s, torch $torch images/s, ratio $(ratio "$rust" "$torch")"
            rust_rates+=("$rust") torch_rates+=("$torch")
        done
        r=$(printf '%s\n' "${rust_rates[@]}" | median)
        t=$(printf '%s\n' "${torch_rates[@]}" | median)
        echo "$net over $passes passes, median: burn ($ops ops) $r images/s, torch $t images/s, ratio $(ratio "$r" "$t")"
    done
    ;;
train)
    cargo build --release -q -p trainer
    cp "${CARGO_TARGET_DIR:-target}/release/trainer" "$out/"
    trainer=$out/trainer
    data_dir=$("$trainer" fetch | sed -n 's/^mnist files verified in //p')
    rust_walls=() torch_walls=()
    for pass in $(seq "$passes"); do
        echo "=== pass $pass: burn, configs/lenet.toml ($(load))"
        start=$(date +%s.%N)
        "$trainer" --config configs/lenet.toml --artifacts "$out/lenet" --overwrite | tail -n 1
        rust=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
        echo "=== pass $pass: torch ($(load))"
        start=$(date +%s.%N)
        "$PYTHON" bench/torch_lenet.py train --data-dir "$data_dir" | tail -n 1
        torch=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
        echo "pass $pass: burn $rust s, torch $torch s wall, torch/burn time $(ratio "$torch" "$rust")"
        rust_walls+=("$rust") torch_walls+=("$torch")
    done
    r=$(printf '%s\n' "${rust_walls[@]}" | median)
    t=$(printf '%s\n' "${torch_walls[@]}" | median)
    echo "over $passes passes, median wall: burn $r s, torch $t s, torch/burn time $(ratio "$t" "$r")"
    ;;
*)
    echo "usage: bench/vs_pytorch.sh step [passes] [steps] [nets] | train [passes]" >&2
    exit 2
    ;;
esac
