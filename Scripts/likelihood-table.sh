#!/usr/bin/env bash
# The README's likelihood rows: the IWAE paper's 784-200-200-50 tanh model on
# dynamically binarised MNIST, trained as a VAE and as an IWAE, each measured
# by the importance-weighted -log p(x) with K = 5000 on the fixed-binarised
# test set (Burda et al. 2015, Table 1).
#   usage: Scripts/likelihood-table.sh [VAE] [EPOCHS] [IWAE_K] [OUT_DIR]
set -euo pipefail
vae=${1:-.build/release/vae}
epochs=${2:-40}
k=${3:-5}
out=${4:-likelihood-runs}
mkdir -p "$out"
common=(--hidden 200,200 --latent 50 --activation tanh --binarize dynamic --epochs "$epochs" --threads 2)
for objective in vae iwae; do
  extra=()
  [ "$objective" = iwae ] && extra=(--iw-samples "$k")
  start=$(date +%s)
  "$vae" train "${common[@]}" "${extra[@]}" --model "$out/$objective.safetensors" --json "$out/$objective-train.json" \
    | tail -3
  trained=$(date +%s)
  "$vae" eval --iw-samples 5000 --binarize fixed --threads 2 --model "$out/$objective.safetensors" --json "$out/$objective-eval.json"
  echo "$objective: training $((trained - start)) s for $epochs epochs, evaluation $(( $(date +%s) - trained )) s"
done
