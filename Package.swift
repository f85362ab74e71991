// swift-tools-version:5.9
// The layout is the architecture (see ../shared/STYLE.md):
//   C shims (module maps only) -> VAEEngine (tensors, BLAS, parallel passes, RNG)
//   -> VAEModels (layers, posteriors, likelihoods, the model protocol and its
//      families, objectives, optimiser; no files, no terminal)
//   VAEData (IDX, gzip, PNG/PGM, safetensors, NPY; knows no layers)
//   -> VAEPlots (charts through Cairo, in PNG, SVG and PDF; image grids)
//   VAEInference (using a model: checkpoints, encoding, decoding, sampling,
//      latent operations, scoring, evaluation, the anomaly protocol)
//   -> VAETraining (training runs: settings, the loop, resume, the benchmark)
//   -> vae (the command-line tool: flags in, library calls, reports out)
import PackageDescription

// The numerical targets are compiled for Haswell's instruction set (AVX2,
// FMA, BMI2: every x86-64 server since 2013, Intel Haswell and AMD Zen on):
// their eight-lane SIMD code then runs as one instruction per operation
// instead of two SSE halves (the importance-weighted evaluation took 0.8x
// the time). Floating-point contraction stays off, so results are the same
// bits as a baseline build. `vae` checks the processor first (CPUFeatures);
// VAE_BASELINE=1 swift build builds for any x86-64.
#if arch(x86_64)
let numerical: [SwiftSetting] = Context.environment["VAE_BASELINE"] == nil
    ? [.unsafeFlags(["-target-cpu", "haswell"]), .define("VAE_FMA")] : []
#else
let numerical: [SwiftSetting] = []
#endif

let package = Package(
    name: "vae",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vae", targets: ["vae"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        // Cairo's and fontconfig's headers only: CCairoLoader loads the
        // libraries when the first chart is drawn, so no other command pays for them.
        // No pkgConfig: it would link the libraries. The headers are found as
        // <cairo/cairo.h> and <fontconfig/fontconfig.h> under /usr/include.
        .systemLibrary(name: "CCairo", providers: [.apt(["libcairo2-dev", "libfontconfig-dev"])]),
        .target(name: "CCairoLoader", dependencies: ["CCairo"], linkerSettings: [.linkedLibrary("dl")]),

        // The run path prefers Debian's OpenMP build of OpenBLAS when it is
        // installed (same ABI and soname as the pthreads build): its thread
        // team then also runs our elementwise passes (see Parallel.swift).
        .target(name: "VAEEngine", dependencies: ["CBLAS"], swiftSettings: numerical,
                linkerSettings: [.unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", "/usr/lib/x86_64-linux-gnu/openblas-openmp"])]),
        // VAEModels shares one vocabulary type with VAEData, ImageShape; it reads and writes no files.
        .target(name: "VAEModels", dependencies: ["VAEEngine", "VAEData"], swiftSettings: numerical),
        .target(name: "VAEData", dependencies: ["CZlib", "CPNG"]),
        .target(name: "VAEPlots", dependencies: ["VAEData", "CCairo", "CCairoLoader"]),
        .target(name: "VAEInference", dependencies: ["VAEEngine", "VAEModels", "VAEData"], swiftSettings: numerical),
        .target(name: "VAETraining", dependencies: ["VAEEngine", "VAEModels", "VAEData", "VAEInference"], swiftSettings: numerical),
        // Checks, in baseline code, that the processor runs what `numerical` targets.
        .target(name: "CPUFeatures"),
        .executableTarget(name: "vae", dependencies: [
            "VAEInference", "VAETraining", "VAEPlots", "CPUFeatures",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "EngineTests", dependencies: ["VAEEngine"]),
        .testTarget(name: "ModelTests", dependencies: ["VAEModels"]),
        .testTarget(name: "DataTests", dependencies: ["VAEData"]),
        .testTarget(name: "InferenceTests", dependencies: ["VAEInference", "VAETraining", "CZlib"]),
        .testTarget(name: "PlotTests", dependencies: ["VAEPlots"]),
        .testTarget(name: "TrainingTests", dependencies: ["VAETraining", "VAEPlots"]),
        .testTarget(name: "CLITests", dependencies: ["vae", "VAEData"]),
    ]
)
