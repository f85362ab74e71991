#!/usr/bin/env bash
# BENCHMARKS.md's memory and cold-start table: for each family, the peak
# resident set of one epoch of `vae train` on full MNIST (and of one epoch
# of `vae train-prior` for the VQ-VAE, plain and on shifted images), by
# /usr/bin/time -f %M, then five cold runs of `vae sample -n 64` of the
# model just written, min / median wall time in ms (nanosecond clock around
# each process).
#
#   Scripts/memory-table.sh [--threads N]     (default 2; ~5 minutes on 2 cores)
#
# Needs VAE_DATA (or ./Data/mnist) and a built binary (VAE=path, default
# .build/release/vae). Writes its models into a temporary folder it removes.
set -euo pipefail
threads=2
[[ "${1:-}" == "--threads" ]] && threads="$2"
vae="${VAE:-$(pwd)/.build/release/vae}"
[[ -x "$vae" ]] || { echo "memory-table.sh: $vae: not built (run make build or set VAE)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "memory-table.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

peak() {   # peak RSS in MiB of the command
    /usr/bin/time -f %M -o "$work/rss" "$@" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
    echo $(( $(cat "$work/rss") / 1024 ))
}

sample_ms() {   # min / median of five cold `vae sample -n 64`
    local times=()
    for _ in 1 2 3 4 5; do
        local start=$(date +%s%N)
        "$vae" sample --model "$1" -n 64 -o "$work/s.png" > /dev/null
        times+=($(( ($(date +%s%N) - start) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%d / %d ms", a[1], a[3]}'
}

echo "| model | training peak RSS | \`sample -n 64\` min / median |"
echo "| --- | --- | --- |"
row() {   # name, flags...
    local name="$1"; shift
    local rss=$(peak "$vae" train --epochs 1 --threads "$threads" --model "$work/m.safetensors" "$@")
    local extra=""
    if [[ " $* " == *" --vq "* ]]; then
        extra="; train-prior $(peak "$vae" train-prior --model "$work/m.safetensors" --epochs 1 --threads "$threads") MiB"
        # The README's best prior's flags: the shifted images are kept for every epoch's encoding.
        extra+=", with --shift 1 --dropout 0.2 --polyak 0.9995 $(peak "$vae" train-prior --model "$work/m.safetensors" --restart \
            --epochs 1 --shift 1 --dropout 0.2 --polyak 0.9995 --threads "$threads") MiB"
    fi
    echo "| $name | $rss MiB$extra | $(sample_ms "$work/m.safetensors") |"
}
row "mlp (default)"
row "mlp400" --hidden 400 --latent 20
row "conv" --arch conv
row "conditional mlp" --conditional
row "conditional conv" --conditional --arch conv
row "iwae2 (two layers, IWAE K = 5)" --latent 100,50 --hidden 200,200/100,100 --activation tanh --iw-samples 5
row "planar:10 (200-200-50, tanh)" --hidden 200,200 --latent 50 --activation tanh --flow planar:10
row "iaf:4 (200-200-50, tanh)" --hidden 200,200 --latent 50 --activation tanh --flow iaf:4
row "VQ-VAE (--vq 128)" --vq 128
