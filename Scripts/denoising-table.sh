#!/usr/bin/env bash
# The README's denoising table: the default model trained EPOCHS epochs on
# clean digits, with --corrupt noise:0.2 and with --corrupt mask:0.4 (the
# denoising VAE of Im et al. 2017; same seed, same budget), then each asked
# to reconstruct the first 100 test digits clean and under three corruptions.
# Prints the mean squared error per pixel against the clean digit, and the
# corrupted input's own error.
#   usage: Scripts/denoising-table.sh [VAE] [EPOCHS] [OUT_DIR]
set -euo pipefail
vae=${1:-.build/release/vae}
epochs=${2:-10}
out=${3:-denoising-runs}
mkdir -p "$out"
corruptions=(noise:0.2 mask:0.4 saltpepper:0.1)
for trained in none noise:0.2 mask:0.4; do
  name=${trained%%:*}
  "$vae" train --epochs "$epochs" --threads 2 --corrupt "$trained" --model "$out/$name.safetensors" | tail -2 | head -1
done
mse() { grep "\"$2\"" "$1" | sed 's/.*: \([0-9.e-]*\).*/\1/'; }
printf '%-22s %10s' "model \\ input" clean
for c in "${corruptions[@]}"; do printf ' %16s' "$c"; done
echo
row="corrupted input"
printf '%-22s %10s' "$row" "-"
for c in "${corruptions[@]}"; do
  "$vae" reconstruct test:0-99 --corrupt "$c" --model "$out/none.safetensors" -o "$out/in.png" --json "$out/in.json" > /dev/null
  printf ' %16.4f' "$(mse "$out/in.json" mse_corrupted)"
done
echo
for trained in none noise:0.2 mask:0.4; do
  name=${trained%%:*}
  "$vae" reconstruct test:0-99 --model "$out/$name.safetensors" -o "$out/r.png" --json "$out/r.json" > /dev/null
  printf '%-22s %10.4f' "trained on $trained" "$(mse "$out/r.json" mse_reconstruction)"
  for c in "${corruptions[@]}"; do
    "$vae" reconstruct test:0-99 --corrupt "$c" --model "$out/$name.safetensors" -o "$out/r.png" --json "$out/r.json" > /dev/null
    printf ' %16.4f' "$(mse "$out/r.json" mse_reconstruction)"
  done
  echo
done
