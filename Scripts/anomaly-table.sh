#!/usr/bin/env bash
# AUROC of held-out-digit anomaly detection for each digit in turn: a model
# is trained without digit d (EPOCHS epochs, default architecture but for
# the latent size) and scores the test set by -ELBO; digit d is the anomaly.
#   usage: Scripts/anomaly-table.sh [VAE] [EPOCHS] [LATENTS...]
set -euo pipefail
vae=${1:-.build/release/vae}
epochs=${2:-3}
shift 2 2>/dev/null || true
latents=("${@:-2 32}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for k in ${latents[@]}; do
  row="latent $k:"
  for d in 0 1 2 3 4 5 6 7 8 9; do
    "$vae" train --exclude-digits "$d" --holdout 3000 --latent "$k" --epochs "$epochs" --threads 2 \
      --model "$work/m.safetensors" >/dev/null
    "$vae" anomaly --model "$work/m.safetensors" --json "$work/a.json" >/dev/null
    auroc=$(grep '"auroc"' "$work/a.json" | sed 's/.*: \([0-9.]*\).*/\1/')
    row="$row $(printf '%.2f' "$auroc")"
  done
  echo "$row"
done
