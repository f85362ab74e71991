import ArgumentParser
import Foundation
import VAEData
import VAEEngine
import VAEInference
import VAEModels
import VAETraining

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training and coding speed, and memory.",
        discussion: "Times steady-state training steps (batch 128, after a warm-up) on real batches of the data set (MNIST by default; --data DIR for a folder data set, the models built for its image shape), reports samples/s, the share of time in matrix products and their GFLOP/s, the bound (every product of a step timed again alone through sgemm on its own shape, in the same run: after each of up to eight rounds of steps, its products) and the fraction of it the step reaches (the median round's, and the rounds' range), encoding and decoding of up to 10,000 images each as one batch, and the peak resident memory.")

    @Option(help: ArgumentHelp("What to time: mlp (784-512-256-20), mlp400 (784-400-20), conv (32/64-channel convolutions, fc 256, latent 20); the families as torch_families.py builds them, tanh on dynamically binarised digits: iwae2 (two stochastic layers, 784-200-200-100 / 100-100-50, IWAE K = 5), planar (784-200-200-50 + planar:10), iaf (784-200-200-50 + iaf:4), vq (the VQ-VAE, 128 codes of 16 on a 7x7 grid, then its PixelCNN prior); all (every one) or models (mlp, mlp400, conv).",
                               valueName: "name|all|models"))
    var arch = "models"

    @Option(help: "Training steps timed per architecture.")
    var batches = 200

    @Option(help: ArgumentHelp("Write the figures as JSON.", valueName: "path"))
    var json: String?

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var loadingOptions: ImageLoadingOptions
    @OptionGroup var threadOptions: ThreadOptions

    /// A timed configuration, with how it trains.
    struct Case {
        let name: String
        let configuration: ModelConfiguration
        var importanceSamples = 1
        var binarized = false
    }

    static let cases: [Case] = {
        let tanh200 = ModelConfiguration(hidden: [200, 200], latent: 50, activation: .tanh)
        var planar = tanh200, iaf = tanh200
        (planar.family, planar.flow) = (.flow, .planar(steps: 10))
        (iaf.family, iaf.flow) = (.flow, .iaf(steps: 4))
        let twoLayers = ModelConfiguration(family: .hierarchical, hidden: [200, 200], latent: 100, activation: .tanh,
                                           upperLayer: UpperLayer(latent: 50, hidden: [100, 100]))
        return [
            Case(name: "mlp", configuration: ModelConfiguration(hidden: [512, 256])),
            Case(name: "mlp400", configuration: ModelConfiguration(hidden: [400])),
            Case(name: "conv", configuration: ModelConfiguration(architecture: .conv, hidden: [256])),
            Case(name: "iwae2", configuration: twoLayers, importanceSamples: 5, binarized: true),
            Case(name: "planar", configuration: planar, binarized: true),
            Case(name: "iaf", configuration: iaf, binarized: true),
            Case(name: "vq", configuration: ModelConfiguration(family: .vq, architecture: .conv, hidden: [], latent: 16,
                                                               quantiser: Quantiser(codes: 128, dimensions: 16))),
        ]
    }()

    static let models: Set = ["mlp", "mlp400", "conv"]

    func selected(_ name: String) -> Bool { arch == "all" || arch == name || (arch == "models" && Self.models.contains(name)) }

    func validate() throws {
        guard arch == "all" || arch == "models" || Self.cases.contains(where: { $0.name == arch }) else {
            throw ValidationError("--arch must be \(Self.cases.map(\.name).joined(separator: ", ")), models or all, got '\(arch)'")
        }
        guard (10...100_000).contains(batches) else { throw ValidationError("--batches must be in 10...100000, got \(batches)") }
    }

    /// "8 rounds, 81–88%": how many rounds of steps, each timed against its
    /// own products, and the range of their fractions of the bound.
    static func describe(_ rounds: [ProductBound]) -> String {
        let fractions = rounds.map { 100 * $0.fraction }
        return String(format: "%d rounds, %.0f–%.0f%%", rounds.count, fractions.min() ?? 0, fractions.max() ?? 0)
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
        for item in Self.cases where selected(item.name) {
            let name = item.name
            var configuration = item.configuration
            configuration.shape = train.shape
            if let problem = configuration.problem { throw CLIError("--data \(directory): \(problem)") }
            var settings = TrainingSettings()
            settings.importanceSamples = item.importanceSamples
            settings.data.binarized = item.binarized
            let r = try benchmark(name: name, configuration: configuration, train: train, test: test,
                                  settings: settings, batches: batches)
            print(String(format: "%@: train %.0f samples/s (%.2f s/epoch), matrix products %.1f%% of the step at %.1f GFLOP/s, peak memory %.0f MiB; encode 10k %.1f ms (%.0f GFLOP/s), decode 10k %.1f ms (%.0f GFLOP/s)",
                         name, r.trainSamplesPerSecond, r.epochSeconds, 100 * r.matrixProductFraction, r.gflops,
                         r.trainingPeakMiB, 1000 * r.encodeSeconds, r.encodeGFLOPS, 1000 * r.decodeSeconds, r.decodeGFLOPS))
            print(String(format: "%@ bound: a step's products %.3f GFLOP, %.2f ms alone at sgemm's %.0f GFLOP/s on their shapes; the step %.2f ms, %.0f%% of the bound (the median of %@); encode %.0f%%, decode %.0f%%",
                         name, r.training.flops / 1e9, 1000 * r.training.seconds, r.training.gflops, 1000 * r.training.passSeconds,
                         100 * r.training.fraction, Self.describe(r.trainingRounds), 100 * r.encoding.fraction, 100 * r.decoding.fraction))
            if let iw = r.importance {
                print(String(format: "%@ importance sampling, K = %d, %d test images: %.2f images/s, products %.2f GFLOP an image, %.0f%% of their bound (%d single-threaded products at once, %.0f GFLOP/s together)",
                             name, iw.importanceSamples, iw.images, iw.imagesPerSecond, iw.bound.flops / 1e9, 100 * iw.bound.fraction,
                             iw.concurrency, iw.bound.gflops))
            }
            var entry: [String: Any] = ["train_samples_per_s": r.trainSamplesPerSecond, "epoch_s": r.epochSeconds,
                         "gemm_fraction": r.matrixProductFraction, "gflops": r.gflops,
                         "encode_10k_ms": 1000 * r.encodeSeconds, "decode_10k_ms": 1000 * r.decodeSeconds,
                         "encode_gflops": r.encodeGFLOPS, "decode_gflops": r.decodeGFLOPS,
                         "peak_rss_mib": r.trainingPeakMiB,
                         "step_gflop": r.training.flops / 1e9, "bound_ms": 1000 * r.training.seconds, "step_ms": 1000 * r.training.passSeconds,
                         "bound_gflops": r.training.gflops, "bound_fraction": r.training.fraction,
                         "bound_fraction_rounds": r.trainingRounds.map(\.fraction),
                         "encode_bound_fraction": r.encoding.fraction, "decode_bound_fraction": r.decoding.fraction]
            if let iw = r.importance {
                entry["iw_images_per_s"] = iw.imagesPerSecond
                entry["iw_gflop_per_image"] = iw.bound.flops / 1e9
                entry["iw_bound_fraction"] = iw.bound.fraction
            }
            if configuration.family == .vq {
                let prior = priorBenchmark(configuration: configuration, train: train, seed: settings.seed, batches: batches)
                print(String(format: "%@ prior (128 channels, 4 blocks): train %.0f grids/s, peak memory %.0f MiB; a step's products %.3f GFLOP, %.2f ms alone at sgemm's %.0f GFLOP/s on their shapes; the step %.2f ms, %.0f%% of the bound (the median of %@)",
                             name, prior.gridsPerSecond, prior.peakMiB, prior.training.flops / 1e9, 1000 * prior.training.seconds,
                             prior.training.gflops, 1000 * prior.training.passSeconds, 100 * prior.training.fraction,
                             Self.describe(prior.trainingRounds)))
                entry["prior_grids_per_s"] = prior.gridsPerSecond
                entry["prior_peak_rss_mib"] = prior.peakMiB
                entry["prior_step_gflop"] = prior.training.flops / 1e9
                entry["prior_bound_gflops"] = prior.training.gflops
                entry["prior_bound_fraction"] = prior.training.fraction
                entry["prior_bound_fraction_rounds"] = prior.trainingRounds.map(\.fraction)
            }
            doc[name] = entry
        }
        if let json { try writeJSON(doc, to: json) }
    }
}
