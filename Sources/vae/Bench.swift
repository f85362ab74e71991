import ArgumentParser
import Foundation
import VAEData
import VAEEngine
import VAEInference
import VAEModels
import VAETraining

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and coding speed, and memory.",
        discussion: "Times steady-state training steps (batch 128, after a warm-up) on real batches of the data set (MNIST by default; --data DIR for a folder data set, the models built for its image shape), reports samples/s, the share of time in matrix products and their GFLOP/s, encoding and decoding of up to 10,000 images each as one batch, and the peak resident memory.")

    @Option(help: ArgumentHelp("Architecture: mlp (784-512-256-20), mlp400 (784-400-20), conv (32/64-channel convolutions, fc 256, latent 20) or all.",
                               valueName: "mlp|mlp400|conv|all"))
    var arch = "all"

    @Option(help: "Training steps timed per architecture.")
    var batches = 200

    @Option(help: ArgumentHelp("Write the figures as JSON.", valueName: "path"))
    var json: String?

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var loadingOptions: ImageLoadingOptions
    @OptionGroup var threadOptions: ThreadOptions

    static let architectures: [(String, ModelConfiguration)] = [
        ("mlp", ModelConfiguration(hidden: [512, 256])),
        ("mlp400", ModelConfiguration(hidden: [400])),
        ("conv", ModelConfiguration(architecture: .conv, hidden: [256])),
    ]

    func validate() throws {
        guard arch == "all" || Self.architectures.contains(where: { $0.0 == arch }) else {
            throw ValidationError("--arch must be mlp, mlp400, conv or all, got '\(arch)'")
        }
        guard (10...100_000).contains(batches) else { throw ValidationError("--batches must be in 10...100000, got \(batches)") }
    }

    func run() throws {
        threadOptions.apply()
        if let json { try checkWritable(json, flag: "--json") }
        let directory = try dataOptions.locate()
        let data = try DataSplits.load(directory: directory, options: loadingOptions.loading(seed: 0, skipUnreadable: dataOptions.skipUnreadable),
                                       progress: LoadingProgress.terminal)
        LoadingProgress.finish(skipped: data.skipped)
        let (train, test) = (data.train, data.test)
        // 20 warm-up steps and at least 10 timed ones, of 128 images each.
        guard train.count >= 30 * 128, test.count >= 1 else {
            throw CLIError("--data \(directory): \(train.count) training images; vae bench times steps on at least 3840")
        }
        print("vae bench: batch 128, \(BLASThreads.current) thread(s), \(batches) timed steps after 20 warm-up steps; \(data.description), \(train.shape)")
        var doc: [String: Any] = [:]
        for (name, var configuration) in Self.architectures where arch == "all" || arch == name {
            configuration.shape = train.shape
            if let problem = configuration.problem { throw CLIError("--data \(directory): \(problem)") }
            let r = try benchmark(name: name, configuration: configuration, train: train, test: test,
                                  batches: batches)
            print(String(format: "%@: train %.0f samples/s (%.2f s/epoch), matrix products %.1f%% of the step at %.1f GFLOP/s, peak memory %.0f MiB; encode 10k %.1f ms (%.0f GFLOP/s), decode 10k %.1f ms (%.0f GFLOP/s)",
                         name, r.trainSamplesPerSecond, r.epochSeconds, 100 * r.matrixProductFraction, r.gflops,
                         r.trainingPeakMiB, 1000 * r.encodeSeconds, r.encodeGFLOPS, 1000 * r.decodeSeconds, r.decodeGFLOPS))
            doc[name] = ["train_samples_per_s": r.trainSamplesPerSecond, "epoch_s": r.epochSeconds,
                         "gemm_fraction": r.matrixProductFraction, "gflops": r.gflops,
                         "encode_10k_ms": 1000 * r.encodeSeconds, "decode_10k_ms": 1000 * r.decodeSeconds,
                         "encode_gflops": r.encodeGFLOPS, "decode_gflops": r.decodeGFLOPS,
                         "peak_rss_mib": r.trainingPeakMiB]
        }
        if let json { try writeJSON(doc, to: json) }
    }
}
