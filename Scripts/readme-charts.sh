#!/usr/bin/env bash
# The README's charts and labelled grids, redrawn from models trained here:
# the default mlp (10 epochs) and a β = 4 one beside it (training curves, KL
# per dimension, the latent PCA, a labelled traversal), a 2-D model (its
# latent means), a conditional mlp (one named row per digit), a model
# trained without 9s (the anomaly plot) and one without 1s with its
# background model (every anomaly metric). About 5 minutes on 2 cores.
#   usage: Scripts/readme-charts.sh [VAE] [OUT_DIR]   (then copy OUT_DIR/*.png to Data/examples/)
set -euo pipefail
vae=${1:-.build/release/vae}
out=${2:-readme-charts}
mkdir -p "$out"
m="$out/models"
mkdir -p "$m"
train() { "$vae" train --threads 2 "$@" | tail -1; }

train --model "$m/default.safetensors" --json "$m/default.json"
train --beta 4 --model "$m/beta4.safetensors" --json "$m/beta4.json"
train --latent 2 --model "$m/latent2.safetensors"
train --conditional --model "$m/conditional.safetensors"
train --exclude-digits 9 --holdout 3000 --latent 20 --epochs 3 --model "$m/no9.safetensors"
train --exclude-digits 1 --holdout 3000 --latent 32 --model "$m/no1.safetensors"
train --exclude-digits 1 --holdout 3000 --latent 32 --perturb 0.2 --model "$m/no1-background.safetensors"

# vae plot names each run after its file.
"$vae" plot curves "$m/default.json" "$m/beta4.json" -o "$out/training-curves.png"
"$vae" eval --model "$m/default.safetensors" --plot "$out/kl-per-dimension.png" | tail -2
"$vae" encode --split test --limit 3000 --model "$m/default.safetensors" -o "$m/latents.csv" --plot "$out/latent-pca.png"
"$vae" encode --split test --limit 3000 --model "$m/latent2.safetensors" -o "$m/latents2.csv" --plot "$out/latent-2d.png"
"$vae" traverse test:3 --dims 0,1,2,3,4,5 --labels --model "$m/default.safetensors" -o "$out/traverse.png"
"$vae" sample --labels --model "$m/conditional.safetensors" -o "$out/conditional-mlp-classes.png"
"$vae" anomaly --model "$m/no9.safetensors" --fpr 0.05 --plot "$out/anomaly-9.png" | head -2
"$vae" anomaly --model "$m/no1.safetensors" --metric all --background "$m/no1-background.safetensors" --plot "$out/anomaly-1-all.png"
