#!/usr/bin/env bash
# The GPU benchmark: configs/lenet.toml at batch 64, 256 and 1024 (2 epochs each) with wgpu, with
# flex on the machine's CPU cores, and with PyTorch CUDA (bench/torch_lenet.py --device cuda),
# printing images/s, test accuracy and the ratio to PyTorch; then each of Burn's GPU switches
# (fusion and autotune, which the `wgpu` feature turns on, and the SPIR-V compiler, which
# `vulkan` adds) measured by a build that differs in it alone; and the ten most expensive GPU
# kernels (CubeCL's profiler, in a run of its own, since profiling times every kernel). Never run
# by the tests or CI.
#
# A GPU machine here has no network, no Rust toolchain and maybe no Vulkan loader, so the work is
# split in two:
#
#   bench/gpu.sh prepare   here: builds the release trainers (VARIANTS, below), strips them into
#                          one archive, and gathers MNIST and the Vulkan loader's package into
#                          .gpu/ (ignored by git; carry it with the device tool's
#                          `carry: [".gpu"]`)
#   bench/gpu.sh run       there, from the repository root with .gpu/ carried along; meant to
#                          finish inside 6 minutes on an H100
#
# VARIANTS (prepare) picks the builds, "wgpu vulkan no-fusion no-autotune" by default, wgpu
# always among them. EPOCHS, BATCHES and ABLATE_BATCHES (run) override the defaults (2;
# "64 256 1024"; "64 1024"); LIMIT trains on the first N images only. On a machine without a GPU,
# `run` uses whatever adapter wgpu finds (lavapipe: correct, and very slow: try `LIMIT=2000
# EPOCHS=1 BATCHES=64 ABLATE_BATCHES=64`), and skips PyTorch when torch sees no CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."

gpu=.gpu
epochs=${EPOCHS:-2}
batches=${BATCHES:-64 256 1024}
ablate_batches=${ABLATE_BATCHES:-64 1024}
limit=${LIMIT:-}
read -r -a variants <<< "${VARIANTS:-wgpu vulkan no-fusion no-autotune}"

# The builds: `wgpu` is what a user gets with `--features wgpu`; `vulkan` adds the SPIR-V
# compiler; each `no-*` build leaves one of wgpu's switches out.
features() {
    case $1 in
    wgpu) echo wgpu ;;
    vulkan) echo vulkan ;;
    no-fusion) echo wgpu-backend,burn/autotune,burn/persistence ;;
    no-autotune) echo wgpu-backend,burn/fusion,burn/persistence ;;
    *) echo "error: unknown build '$1' in VARIANTS" >&2; return 1 ;;
    esac
}

prepare() {
    rm -rf "$gpu/bin" && mkdir -p "$gpu/bin"
    local exclude
    exclude=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$exclude")"
    grep -qxF "/$gpu/" "$exclude" 2> /dev/null || echo "/$gpu/" >> "$exclude"
    local variant features
    for variant in "${variants[@]}"; do
        features=$(features "$variant")
        cargo build --release -p trainer --features "$features"
        strip -o "$gpu/bin/trainer-$variant" "${CARGO_TARGET_DIR:-target}/release/trainer"
    done
    # One solid archive whose dictionary is longer than a binary (about 120 MB), so what the
    # builds share is stored once: each alone is about 20 MB compressed, and four of those would
    # not fit the device tool's 64 MiB.
    tar -C "$gpu" -cf - bin | xz -T1 --lzma2=preset=9,dict=256MiB > "$gpu/trainers.tar.xz"
    rm -rf "$gpu/bin"
    # MNIST: the four raw IDX files, fetched and verified by the trainer itself.
    "${CARGO_TARGET_DIR:-target}/release/trainer" fetch --data-dir "$gpu/mnist" 2> /dev/null
    gzip -kf "$gpu"/mnist/*-ubyte
    rm -f "$gpu"/mnist/*-ubyte
    # The Vulkan loader (the NVIDIA driver brings its own ICD), as amd64 packages to unpack there.
    local lists=/tmp/gpu-bench-apt-lists
    mkdir -p "$lists/partial"
    local apt=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
    apt-get "${apt[@]}" update -qq
    (cd "$gpu" && apt-get "${apt[@]}" download libvulkan1 > /dev/null)
    du -sh "$gpu"
    local mib
    mib=$(du -sm "$gpu" | cut -f1)
    if ((mib > 60)); then
        echo "error: $gpu is $mib MiB, more than one device call carries (64 MiB with the tree);" \
            "prepare fewer builds, e.g. VARIANTS='wgpu vulkan', then VARIANTS='wgpu no-fusion'" >&2
        exit 1
    fi
}

# "epoch 2/2  train loss ... 12345 images/s" -> the last epoch's images/s; the final line's
# accuracy.
rate() { grep -E '^epoch [0-9]+/' "$1" | tail -1 | sed -E 's/.* ([0-9]+) images\/s.*/\1/'; }
accuracy() { sed -nE 's/^test accuracy ([0-9.]+)%.*/\1/p' "$1" | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# A copy of configs/lenet.toml at batch $2 for $3 epochs, in $1.
config() {
    local file="$1/lenet-$2-$3.toml"
    sed -E "s/^batch_size = .*/batch_size = $2/; s/^epochs = .*/epochs = $3/" configs/lenet.toml > "$file"
    [[ -n $limit ]] && sed -i -E "s/^\[data\]$/[data]\nlimit = $limit/" "$file"
    grep -q "^batch_size = $2$" "$file" || { echo "error: $file has no batch_size line" >&2; exit 1; }
    echo "$file"
}

# Sums CubeCL's profile tables (one per device sync) by kernel and prints the ten costliest.
top_kernels() {
    awk -F'|' 'NF == 6 && $5 ~ /%/ {
        name = $2; gsub(/^ +| +$/, "", name)
        if (name == "Name" || name == "Total") next
        d = $3; gsub(/ /, "", d); v = d + 0
        if (d ~ /ns$/) v /= 1e6; else if (d ~ /µs$|us$/) v /= 1e3; else if (d ~ /ms$/) v *= 1; else if (d ~ /s$/) v *= 1e3
        ms[name] += v; n[name] += $4; total += v
    }
    END {
        for (k in ms) printf "%10.1f ms %6.1f%% %8d  %s\n", ms[k], (total > 0 ? 100 * ms[k] / total : 0), n[k], k
    }' "$1" | sort -rn | head -10
}

run() {
    [[ -f $gpu/trainers.tar.xz ]] ||
        { echo "error: no $gpu/trainers.tar.xz; run 'bench/gpu.sh prepare' first" >&2; exit 1; }
    if ! ldconfig -p | grep -q libvulkan.so.1; then
        for deb in "$gpu"/*.deb; do dpkg -x "$deb" /; done
        ldconfig
    fi
    [[ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]] &&
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    local work
    work=$(mktemp -d)
    # Autotune's results go to a fresh cache, so the first run of each build tunes as a user's would.
    export XDG_CACHE_HOME="$work/cache"
    xz -dc "$gpu/trainers.tar.xz" | tar -C "$work" -xf -
    # The builds prepare made; wgpu is the baseline of every comparison.
    variants=()
    local variant
    for variant in wgpu vulkan no-fusion no-autotune; do
        [[ -f $work/bin/trainer-$variant ]] && chmod +x "$work/bin/trainer-$variant" &&
            variants+=("$variant")
    done
    [[ ${variants[0]:-} == wgpu ]] || { echo "error: $gpu/trainers.tar.xz holds no wgpu build" >&2; exit 1; }
    mkdir -p "$work/mnist"
    for f in "$gpu"/mnist/*.gz; do gzip -dc "$f" > "$work/mnist/$(basename "$f" .gz)"; done
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2> /dev/null || true
    echo "CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"

    # train VARIANT BACKEND BATCH EPOCHS -> "images/s accuracy", the log kept in $work.
    train() {
        local log="$work/$1-$2-$3.log" r a
        "$work/bin/trainer-$1" --config "$(config "$work" "$3" "$4")" --backend "$2" \
            --data-dir "$work/mnist" --artifacts "$work/run-$1-$2-$3" --overwrite > "$log" 2>&1 ||
            { echo "error: $1 $2 at batch $3 failed:" >&2; tail -5 "$log" >&2; }
        r=$(rate "$log") a=$(accuracy "$log")
        echo "${r:-0} ${a:-?}"
    }
    row() { printf '%-18s %5s %10s %8s %8s\n' "$@"; }

    local rows=() wgpu_rate=()
    for batch in $batches; do
        local torch_rate=0 torch_acc=n/a
        if python3 -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2> /dev/null; then
            python3 bench/torch_lenet.py train --data-dir "$work/mnist" --device cuda \
                --epochs "$epochs" --batch-size "$batch" ${limit:+--limit "$limit"} > "$work/torch-$batch.log" 2>&1 || true
            torch_rate=$(sed -nE 's/.* ([0-9]+) train images\/s.*/\1/p' "$work/torch-$batch.log" | tail -1)
            torch_acc=$(sed -nE 's/.*test accuracy ([0-9.]+)%.*/\1/p' "$work/torch-$batch.log" | tail -1)
        fi
        local r a
        read -r r a < <(train wgpu wgpu "$batch" "$epochs")
        wgpu_rate[batch]=$r
        rows+=("$(row wgpu "$batch" "$r" "$a" "$(ratio "$r" "${torch_rate:-0}")")")
        read -r r a < <(train wgpu flex "$batch" "$epochs")
        rows+=("$(row flex "$batch" "$r" "$a" "$(ratio "$r" "${torch_rate:-0}")")")
        rows+=("$(row torch-cuda "$batch" "${torch_rate:-n/a}" "${torch_acc:-n/a}" 1.00)")
    done
    echo
    row backend batch "images/s" "test %" "x torch"
    printf '%s\n' "${rows[@]}"
    local b64=${wgpu_rate[64]:-}
    [[ -n $b64 && -n ${wgpu_rate[1024]:-} ]] &&
        echo "wgpu batch 1024 / batch 64: $(ratio "${wgpu_rate[1024]}" "$b64")"

    echo
    echo "each switch: vulkan adds the SPIR-V compiler to wgpu, each no-* build leaves one out"
    row build batch "images/s" "test %" "x wgpu"
    for variant in "${variants[@]:1}"; do
        for batch in $ablate_batches; do
            local base=${wgpu_rate[batch]:-}
            [[ -n $base ]] || read -r base _ < <(train wgpu wgpu "$batch" "$epochs")
            read -r r a < <(train "$variant" wgpu "$batch" "$epochs")
            row "$variant" "$batch" "$r" "$a" "$(ratio "$r" "$base")"
        done
    done

    # Profiling times every kernel, so it gets a short run of its own, not the timed ones above.
    local profile="$work/profile.log"
    CUBECL_DEBUG_OPTION=profile CUBECL_DEBUG_LOG="$profile" \
        "$work/bin/trainer-wgpu" --config "$(limit=${limit:-10000} config "$work" 64 1)" --backend wgpu \
        --data-dir "$work/mnist" --artifacts "$work/run-profile" > "$work/profile-run.log" 2>&1 || true
    echo
    echo "wgpu, batch 64: the ten most expensive kernels (CubeCL profile; total ms, share, launches)"
    if [[ -s $profile ]]; then top_kernels "$profile"; else echo "(no profile written)"; fi
}

case "${1:-}" in
prepare) prepare ;;
run) run ;;
*) echo "usage: bench/gpu.sh prepare|run" >&2; exit 2 ;;
esac
