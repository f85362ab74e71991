#include "cpu_features.h"

// Compiled for the baseline instruction set (no -target-cpu), so this check
// runs on any x86-64 before code built for Haswell's instructions can trap.
int vae_cpu_is_supported(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
#else
    return 1;
#endif
}

const char *vae_cpu_requirement(void) {
    return "an x86-64 processor with AVX2, FMA and BMI2 (Intel Haswell, AMD Zen or later)";
}
