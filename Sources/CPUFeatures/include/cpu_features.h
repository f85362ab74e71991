#ifndef VAE_CPU_FEATURES_H
#define VAE_CPU_FEATURES_H

/// 1 when this processor runs the instructions the numerical targets are
/// compiled for (on x86-64: AVX2 and FMA, see Package.swift); always 1 elsewhere.
int vae_cpu_is_supported(void);

/// What the numerical targets need, for the message when it is missing.
const char *vae_cpu_requirement(void);

#endif
