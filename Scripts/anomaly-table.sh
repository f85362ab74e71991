#!/usr/bin/env bash
# Held-out-digit anomaly detection, each digit in turn: a model is trained
# without digit d (EPOCHS epochs, the default mlp architecture but for the
# latent size), then scores the whole test set by each metric; digit d is the
# anomaly. Prints AUROC and average precision per digit, latent size and
# metric, keeps every `vae anomaly --json` file in OUT, and draws AUROC per
# held-out digit as grouped bars (OUT/auroc.png, vae plot anomaly).
#   usage: Scripts/anomaly-table.sh [VAE] [EPOCHS] [LATENTS...]
#   environment: OUT (default anomaly-table), METRICS (default "nelbo recon iw"),
#                DIGITS (default 0-9), THREADS (default 2)
set -euo pipefail
vae=${1:-.build/release/vae}
epochs=${2:-10}
shift 2 2>/dev/null || true
latents=("${@:-2 32}")
out=${OUT:-anomaly-table}
metrics=${METRICS:-nelbo recon iw}
digits=${DIGITS:-0 1 2 3 4 5 6 7 8 9}
threads=${THREADS:-2}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

value() { sed -n "s/^ *\"$2\" : \([-0-9.e]*\).*/\1/p" "$1"; }

for k in ${latents[@]}; do
  for d in $digits; do
    "$vae" train --exclude-digits "$d" --holdout 3000 --latent "$k" --epochs "$epochs" --threads "$threads" \
      --model "$work/m.safetensors" >/dev/null
    for m in $metrics; do
      "$vae" anomaly --model "$work/m.safetensors" --metric "$m" --threads "$threads" \
        --json "$out/latent$k-digit$d-$m.json" >/dev/null
    done
  done
  for m in $metrics; do
    auroc="" ap=""
    for d in $digits; do
      auroc="$auroc $(printf '%.3f' "$(value "$out/latent$k-digit$d-$m.json" auroc)")"
      ap="$ap $(printf '%.3f' "$(value "$out/latent$k-digit$d-$m.json" average_precision)")"
    done
    echo "latent $k, $m: AUROC$auroc | AP$ap"
  done
done
"$vae" plot anomaly "$out"/latent*-digit*.json -o "$out/auroc.png"
