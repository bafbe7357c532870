#!/usr/bin/env bash
# The GPU benchmark: configs/lenet.toml at batch 64, 256 and 1024 (2 epochs each) with wgpu, with
# flex on the machine's CPU cores, and with PyTorch CUDA (bench/torch_lenet.py --device cuda),
# printing images/s, test accuracy, the ratio to PyTorch and the ten most expensive GPU kernels
# (CubeCL's profiler). Never run by the tests or CI.
#
# A GPU machine here has no network, no Rust toolchain and maybe no Vulkan loader, so the work is
# split in two:
#
#   bench/gpu.sh prepare   here: builds the release trainer with wgpu, strips and compresses it,
#                          and gathers MNIST and the Vulkan loader's package into .gpu/ (ignored
#                          by git; carry it with the device tool's `carry: [".gpu"]`)
#   bench/gpu.sh run       there, from the repository root with .gpu/ carried along; finishes in
#                          about 3 minutes on an H100 (6 at most)
#
# EPOCHS and BATCHES override the defaults (2; "64 256 1024"). On a machine without a GPU, `run`
# uses whatever adapter wgpu finds (lavapipe: correct, and very slow), and skips PyTorch when
# torch sees no CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."

gpu=.gpu
epochs=${EPOCHS:-2}
batches=${BATCHES:-64 256 1024}

prepare() {
    mkdir -p "$gpu"
    grep -qxF "/$gpu/" .git/info/exclude 2> /dev/null || echo "/$gpu/" >> .git/info/exclude
    cargo build --release -p trainer --features wgpu
    strip -o "$gpu/trainer" "${CARGO_TARGET_DIR:-target}/release/trainer"
    xz -T0 -6 -f "$gpu/trainer"
    # MNIST: the four raw IDX files, fetched and verified by the trainer itself.
    "${CARGO_TARGET_DIR:-target}/release/trainer" fetch --data-dir "$gpu/mnist"
    gzip -kf "$gpu"/mnist/*-ubyte
    rm -f "$gpu"/mnist/*-ubyte
    # The Vulkan loader (the NVIDIA driver brings its own ICD), as amd64 packages to unpack there.
    local lists=/tmp/gpu-bench-apt-lists
    mkdir -p "$lists/partial"
    local apt=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
    apt-get "${apt[@]}" update -qq
    (cd "$gpu" && apt-get "${apt[@]}" download libvulkan1 > /dev/null)
    du -sh "$gpu"
}

# "epoch 2/2  train loss ... 12345 images/s" -> the last epoch's images/s; the final line's
# accuracy.
rate() { grep -E '^epoch [0-9]+/' "$1" | tail -1 | sed -E 's/.* ([0-9]+) images\/s.*/\1/'; }
accuracy() { sed -nE 's/^test accuracy ([0-9.]+)%.*/\1/p' "$1" | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

run() {
    [[ -f $gpu/trainer.xz ]] || { echo "error: no $gpu/trainer.xz; run 'bench/gpu.sh prepare' first" >&2; exit 1; }
    if ! ldconfig -p | grep -q libvulkan.so.1; then
        for deb in "$gpu"/*.deb; do dpkg -x "$deb" /; done
        ldconfig
    fi
    [[ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]] &&
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    local work
    work=$(mktemp -d)
    xz -dc "$gpu/trainer.xz" > "$work/trainer"
    chmod +x "$work/trainer"
    mkdir -p "$work/mnist"
    for f in "$gpu"/mnist/*.gz; do gzip -dc "$f" > "$work/mnist/$(basename "$f" .gz)"; done
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2> /dev/null || true
    echo "CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"

    local rows=()
    for batch in $batches; do
        local config="$work/lenet-$batch.toml"
        sed -E "s/^batch_size = .*/batch_size = $batch/; s/^epochs = .*/epochs = $epochs/" \
            configs/lenet.toml > "$config"
        grep -q "^batch_size = $batch" "$config" || { echo "error: $config has no batch_size line" >&2; exit 1; }
        local torch_rate="" torch_acc=""
        if python3 -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2> /dev/null; then
            python3 bench/torch_lenet.py train --data-dir "$work/mnist" --device cuda \
                --epochs "$epochs" --batch-size "$batch" > "$work/torch-$batch.log" 2>&1 || true
            torch_rate=$(sed -nE 's/.* ([0-9]+) train images\/s.*/\1/p' "$work/torch-$batch.log" | tail -1)
            torch_acc=$(sed -nE 's/.*test accuracy ([0-9.]+)%.*/\1/p' "$work/torch-$batch.log" | tail -1)
        fi
        for backend in wgpu flex; do
            local log="$work/$backend-$batch.log"
            local profile=()
            [[ $backend == wgpu ]] &&
                profile=(env CUBECL_DEBUG_OPTION=profile "CUBECL_DEBUG_LOG=$work/profile-$batch.log")
            "${profile[@]}" "$work/trainer" --config "$config" --backend "$backend" \
                --data-dir "$work/mnist" --artifacts "$work/run-$backend-$batch" > "$log" 2>&1 ||
                { echo "error: $backend at batch $batch failed:" >&2; tail -5 "$log" >&2; }
            local r a
            r=$(rate "$log") a=$(accuracy "$log")
            rows+=("$(printf '%-6s %5s %10s %8s %8s' "$backend" "$batch" "${r:-?}" "${a:-?}" "$(ratio "${r:-0}" "${torch_rate:-0}")")")
        done
        rows+=("$(printf '%-6s %5s %10s %8s %8s' torch "$batch" "${torch_rate:-n/a}" "${torch_acc:-n/a}" 1.00)")
    done
    echo
    printf '%-6s %5s %10s %8s %8s\n' backend batch "images/s" "test %" "x torch"
    printf '%s\n' "${rows[@]}"
    for batch in $batches; do
        local profile="$work/profile-$batch.log"
        [[ -s $profile ]] || continue
        echo
        echo "wgpu, batch $batch: the ten most expensive kernels (CubeCL profile)"
        # The profiler's summary lists kernels by total time, most expensive first.
        grep -iE 'kernel|total|duration' "$profile" | head -12
    done
}

case "${1:-}" in
prepare) prepare ;;
run) run ;;
*) echo "usage: bench/gpu.sh prepare|run" >&2; exit 2 ;;
esac
