import ArgumentParser
import Foundation
import VAEData
import VAEInference
import VAEModels
import VAEPlots

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a model as the papers do: −ELBO, KL per dimension, active units, importance-weighted −log p(x) (a VQ-VAE: reconstruction, MSE, codebook use, the prior's cross-entropy and the bound on −log p(x)).",
        discussion: "With --iw-samples K, the importance-weighted estimate −log (1/K Σ_k p(x, z_k)/q(z_k|x)) with z_k ~ q(z|x) (Burda et al. 2015; K = 5000 in the papers) is a likelihood only for the Bernoulli decoder (--loss bce); compare it with the literature on binarised data: --binarize fixed samples each test pixel once from its intensity, with a fixed seed.")

    @Option(help: ArgumentHelp("The split to measure.", valueName: "train|test"))
    var split: MNISTSplit = .test

    @Option(help: ArgumentHelp("Only the first n images of the split.", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Importance samples per image for −log p(x) (0: skip).", valueName: "K"))
    var iwSamples = 0

    @Option(help: ArgumentHelp("fixed: binarise the images once with a fixed seed; none: grey levels (default: fixed for a model trained with --binarize dynamic, else none).",
                               valueName: "fixed|none"))
    var binarize: Binarization?

    @Option(help: ArgumentHelp("Write the figures as JSON.", valueName: "path"))
    var json: String?

    @Option(help: ArgumentHelp("Draw the KL of each latent dimension as bars, active units marked: .png, .svg or .pdf.", valueName: "path"))
    var plot: String?

    @Option(help: ArgumentHelp("Judge N samples from the prior: class histogram and entropy, mean confidence, Fréchet distances of samples and of reconstructions to the test split; a conditional model: the share read as the class asked for.",
                               valueName: "N"))
    var sampleQuality: Int?

    @OptionGroup var judgeOptions: JudgeOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard (0...100_000).contains(iwSamples) else { throw ValidationError("--iw-samples must be in 0...100000, got \(iwSamples)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if let plot { try checkChartExtension(plot, flag: "--plot") }
        if let sampleQuality, !(2...100_000).contains(sampleQuality) {
            throw ValidationError("--sample-quality must be in 2...100000, got \(sampleQuality)")
        }
    }

    func run() throws {
        threadOptions.apply()
        if let json { try checkWritable(json, flag: "--json") }
        if let plot { try checkChartOutput(plot, flag: "--plot") }
        let loaded = try Checkpoint.load(path: modelOptions.model)
        let model = loaded.model
        if plot != nil && model is VQVAE {
            throw CLIError("--plot: \(modelOptions.model) is a VQ-VAE, whose latents are discrete codes with no KL per dimension")
        }
        if iwSamples > 0 && model.configuration.likelihood != .bernoulli {
            throw CLIError("--iw-samples needs a Bernoulli decoder (a model trained with --loss bce)")
        }
        if iwSamples > 0 && model.noisePerDraw == 0 {
            throw CLIError("--iw-samples: \(modelOptions.model) draws no z from q(z|x), so there is nothing to importance-sample")
        }
        let judge = try sampleQuality.map { _ in try judgeOptions.load() }
        if let judge, judge.judge.configuration.shape != model.configuration.shape {
            throw CLIError("--sample-quality: the judge reads \(judge.judge.configuration.shape) images; \(modelOptions.model) draws \(model.configuration.shape)")
        }
        if sampleQuality != nil, let problem = model.priorProblem { throw CLIError("--sample-quality: \(problem)") }
        let data = try dataOptions.load(for: loaded)
        var quality: [String: Any]?
        if let judge, let sampleQuality {
            quality = reportSampleQuality(model: model, judge: judge, count: sampleQuality, reference: data.test,
                                          classNames: (0..<model.configuration.classes).map { loaded.trainingData.className($0) })
        }
        var images = split == .train ? data.train : data.test
        if let limit, limit < images.count { images = images.subset(0..<limit) }
        try model.checkInput(images, source: "the \(split.rawValue) split")
        let binary = binarize.map { $0 == .fixed } ?? loaded.trainingData.binarized
        if binary { images = binarized(images, seed: seedOptions.seed) }
        if let vq = model as? VQVAE {
            try report(vq, images: images, binary: binary, quality: quality)
            return
        }
        let isTerminal = isatty(STDOUT_FILENO) != 0
        let result = evaluateModel(model, images: images, seed: seedOptions.seed, importanceSamples: iwSamples) { done in
            if isTerminal && (done % 500 == 0 || done == images.count) {
                print("\rimportance sampling: \(done)/\(images.count) images\u{1B}[K", terminator: "")
                fflush(stdout)
            }
        }
        if isTerminal && iwSamples > 0 { print("\r\u{1B}[K", terminator: "") }
        let t = result.terms
        print("\(images.count) \(split.rawValue) images\(binary ? ", binarised (fixed seed \(seedOptions.seed))" : ", grey levels")")
        let parts = t.boundTerms.map { String(format: "%@ %.3f", $0.label, t.perSample($0)) }
        print(String(format: "−ELBO %.3f = %@ (nats per image)", t.boundPerSample, parts.joined(separator: " + ")))
        for (i, layer) in result.layers.enumerated() {
            let name = result.layers.count == 1 ? "" : " of z\(i + 1)"
            if let kl = layer.klPerDimension {
                print("KL per dimension\(name): " + kl.map { String(format: "%.2f", $0) }.joined(separator: " "))
            }
            let mean = model.configuration.flow != nil ? "z_K(x) at ε = 0" : "E[z_j|x]"
            print("active units\(name): \(layer.activeUnits) of \(layer.dimensions) (Cov_x \(mean) > 0.01)")
        }
        if let nll = result.importanceWeightedNLL {
            print(String(format: "−log p(x) ≈ %.3f (importance-weighted, K = %d, %.1f s)", nll, iwSamples, result.importanceSeconds))
        }
        if let json {
            var doc: [String: Any] = [
                "nelbo": t.boundPerSample, "iw_samples": iwSamples, "n": images.count, "binarized": binary, "split": split.rawValue,
                "active_units": result.layers.map(\.activeUnits).reduce(0, +),
            ]
            for (name, value) in t.perSampleByName { doc[name] = value }
            if result.layers.count == 1 {
                if let kl = result.layers[0].klPerDimension { doc["kl_per_dimension"] = kl }
            } else {
                doc["active_units_per_layer"] = result.layers.map(\.activeUnits)
                doc["kl_per_dimension_per_layer"] = result.layers.map { $0.klPerDimension.map { $0 as Any } ?? NSNull() }
            }
            if let nll = result.importanceWeightedNLL { doc["iw_nll"] = nll; doc["iw_seconds"] = result.importanceSeconds }
            if let quality { doc["sample_quality"] = quality }
            try writeJSON(doc, to: json)
        }
        if let plot {
            try Figures.latentUse(layers: result.layers.map { ($0.klPerDimension, $0.activity, LatentStatistics.activityThreshold) })
                .write(to: plot)
            print("plotted the use of each latent dimension to \(plot)")
        }
    }
}

extension Eval {
    /// A VQ-VAE's figures (van den Oord et al. 2017 report the bound in bits per dimension).
    func report(_ model: VQVAE, images: ImageSet, binary: Bool, quality: [String: Any]?) throws {
        let e = evaluateCodeModel(model, images: images)
        print("\(images.count) \(split.rawValue) images\(binary ? ", binarised (fixed seed \(seedOptions.seed))" : ", grey levels")")
        print(String(format: "reconstruction −log p(x|z_q) %.3f nats per image; per-pixel MSE %.5f; codebook distance %.3f", e.reconstruction,
                     e.meanSquaredError, e.distance))
        print(String(format: "codebook: perplexity %.1f, %d of %d codes in use", e.usage.perplexity, e.usage.codesInUse, model.quantiser.codes))
        if let ce = e.priorCrossEntropyPerCode, let bound = e.boundNats, let bits = e.bitsPerDimension {
            print(String(format: "prior: %.4f nats per code (%d codes per image)", ce, model.positions))
            print(String(format: "−log p(x) ≤ %.3f nats per image = %.4f bits per dimension (−log p(x|z_q) − log p(z_q))", bound, bits))
        } else {
            print("prior: none yet (vae train-prior), so no bound on −log p(x)")
        }
        guard let json else { return }
        var doc: [String: Any] = [
            "n": images.count, "binarized": binary, "split": split.rawValue, "recon": e.reconstruction, "mse_per_pixel": e.meanSquaredError,
            "commitment": e.distance, "perplexity": e.usage.perplexity, "codes_in_use": e.usage.codesInUse,
        ]
        if let ce = e.priorCrossEntropyPerCode { doc["prior_ce_per_code"] = ce }
        if let bound = e.boundNats { doc["bound_nats"] = bound }
        if let bits = e.bitsPerDimension { doc["bound_bits_per_dim"] = bits }
        if let quality { doc["sample_quality"] = quality }
        try writeJSON(doc, to: json)
    }

    /// `--sample-quality N`: prints the judge's figures and returns them for the JSON.
    func reportSampleQuality(model: any VariationalModel, judge: JudgeFile.Loaded, count: Int, reference: ImageSet,
                             classNames: [String]) -> [String: Any] {
        let q = measureSampleQuality(model: model, judge: judge.judge, count: count, reference: reference, seed: seedOptions.seed)
        let names = judge.classNames ?? (0..<judge.judge.classes).map(String.init)
        print("sample quality: \(count) samples read by \(QualityReport.judgeName(judge))")
        print(QualityReport.lines(q.samples, classNames: names).map { "  " + $0 }.joined(separator: "\n"))
        var doc = QualityReport.json(q.samples)
        let test = q.reference
        print(String(format: "  the test split (%d images): class entropy %.3f, mean confidence %.3f, read as its label %.2f%%", test.count,
                     test.classEntropy, test.meanConfidence, reference.labels.map { 100 * test.agreement(with: $0.map(Int.init)) } ?? .nan))
        doc["test_class_entropy"] = test.classEntropy
        doc["test_mean_confidence"] = test.meanConfidence
        if let d = q.frechetDistance { doc["frechet_distance"] = d }
        if let d = q.reconstructionFrechetDistance { doc["reconstruction_frechet_distance"] = d }
        print(String(format: "  Fréchet distance to the test split: samples %.3f, reconstructions of the test split %.3f",
                     q.frechetDistance ?? .nan, q.reconstructionFrechetDistance ?? .nan))
        if let share = q.conditionalShare, let byClass = q.conditionalShareByClass {
            print(String(format: "  read as the class asked for: %.2f%%; per class: ", 100 * share)
                  + zip(classNames, byClass).map { String(format: "%@ %.1f%%", $0, 100 * $1) }.joined(separator: ", "))
            doc["conditional_share"] = share
            doc["conditional_share_by_class"] = byClass
        }
        return doc
    }

    /// `--binarize`: the images binarised once with a fixed seed, or grey levels.
    enum Binarization: String, CaseIterable, ExpressibleByArgument { case fixed, none }
}
