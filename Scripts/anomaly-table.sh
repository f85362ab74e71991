#!/usr/bin/env bash
# Held-out-digit anomaly detection, each digit in turn: a model is trained
# without digit d (EPOCHS epochs, the default mlp architecture but for the
# latent size), and a background model like it on the same images with 20%
# of their pixels replaced at random (vae train --perturb 0.2, for the
# likelihood ratio); the model then scores the whole test set by every
# metric (vae anomaly --metric all); digit d is the anomaly. Keeps each
# run's JSON in OUT, prints AUROC and average precision per metric and
# latent size as Markdown tables, and draws AUROC per held-out digit as
# grouped bars (OUT/auroc.png).
#   usage: Scripts/anomaly-table.sh [VAE] [EPOCHS] [LATENTS...]
#   environment: OUT (default anomaly-table), METRICS (default all; or one
#                metric: nelbo, recon, iw, complexity, knn), DIGITS (default 0-9),
#                THREADS (default 2), FLAGS (more `vae train` flags for both
#                models, e.g. "--arch conv"), BACKGROUND (default 1; 0: no
#                background model, so `all` leaves the ratio out)
set -euo pipefail
vae=${1:-.build/release/vae}
epochs=${2:-10}
shift 2 2>/dev/null || true
latents=("${@:-2 32}")
out=${OUT:-anomaly-table}
metric=${METRICS:-all}
digits=${DIGITS:-0 1 2 3 4 5 6 7 8 9}
threads=${THREADS:-2}
read -r -a flags <<< "${FLAGS:-}"
with_background=${BACKGROUND:-1}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for k in ${latents[@]}; do
  for d in $digits; do
    common=(--exclude-digits "$d" --holdout 3000 --latent "$k" --epochs "$epochs" --threads "$threads" ${flags[@]+"${flags[@]}"})
    "$vae" train "${common[@]}" --model "$work/m.safetensors" >/dev/null
    background=()
    if [ "$metric" = all ] && [ "$with_background" != 0 ]; then
      "$vae" train "${common[@]}" --perturb 0.2 --model "$work/bg.safetensors" >/dev/null
      background=(--background "$work/bg.safetensors")
    fi
    "$vae" anomaly --model "$work/m.safetensors" --metric "$metric" "${background[@]}" --threads "$threads" \
      --json "$out/latent$k-digit$d.json" >/dev/null
    echo "latent $k, digit $d held out: done"
  done
done
"$vae" plot anomaly "$out"/latent*-digit*.json --value average-precision -o "$out/average-precision.png"
"$vae" plot anomaly "$out"/latent*-digit*.json -o "$out/auroc.png"
