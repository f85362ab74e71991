import Foundation
import VAEData
import VAEEngine
import VAEModels

/// The importance-weighted estimate of −log p(x), image by image, with
/// bounded memory whatever K (Burda et al. 2015; the bound itself is
/// `Objective`'s).
///
/// Image i's K draws take their noise from a stream of their own (the seed,
/// `.importance`, i), so an image's draws do not depend on how the images
/// are grouped or shared out. Groups of images go to the threads side by
/// side, each to its own copy of the model, whose products then run
/// single-threaded: for K in the thousands a thread's products are large
/// enough to keep its core busy alone, without the synchronisation of
/// splitting every product and pass between two, and each image's estimate
/// is the same bits whatever the thread count. (With one group, several
/// images' few draws each, the threads split its products instead.)
public final class ImportanceSampler {
    public let model: any VariationalModel
    public let samples: Int
    private var workers: [Worker] = []

    public init(model: any VariationalModel, samples: Int) {
        precondition(samples >= 1 && model.noisePerDraw > 0, "importance sampling needs K ≥ 1 draws from q")
        self.model = model
        self.samples = samples
    }

    /// Images per group: several when K is small, so a few thousand draws
    /// are decoded as one product.
    public var imagesPerBatch: Int { max(1, model.importanceRows / samples) }

    /// −L_K of each of `count` images, which `fill(range, x, condition)`
    /// writes a group at a time (x (n, D) in [0, 1]; condition (n, classes),
    /// or nil for an unconditional model). `progress` is told, on the
    /// calling thread, how many images are done.
    public func bounds(count: Int, seed: UInt64, fill: (Range<Int>, Matrix, Matrix?) -> Void,
                       progress: ((Int) -> Void)? = nil) -> [Double] {
        let group = imagesPerBatch, groups = (count + group - 1) / group
        let parallel = min(groups, concurrentParts)
        while workers.count < max(1, parallel) { workers.append(Worker(replicating: model, workers.isEmpty, samples: samples, images: group)) }
        var results = [Double](repeating: 0, count: count)
        // Rounds of a few groups per thread, so progress is reported as it goes.
        let round = max(1, parallel) * max(1, 64 / group)
        results.withUnsafeMutableBufferPointer { results in
            let out = results.baseAddress!
            for first in stride(from: 0, to: groups, by: round) {
                let last = min(first + round, groups)
                parallelParts(max(1, parallel)) { part in
                    for g in stride(from: first + part, to: last, by: max(1, parallel)) {
                        let range = (g * group)..<min((g + 1) * group, count)
                        workers[part].bounds(range, seed: seed, fill: fill, into: out + range.lowerBound)
                    }
                }
                progress?(min(last * group, count))
            }
        }
        return results
    }

    /// −L_K of each image of `images`.
    public func bounds(of images: ImageSet, seed: UInt64, progress: ((Int) -> Void)? = nil) -> [Double] {
        let classes = model.configuration.classes
        return bounds(count: images.count, seed: seed, fill: { range, x, condition in
            images.gather(range, into: x.pointer)
            if let condition, let labels = images.labels {
                Conditioning.fillOneHot(range.lazy.map { Int(labels[$0]) }, classes: classes, into: condition)
            }
        }, progress: progress)
    }
}

/// One thread's share of an importance-weighted estimate: a model of its
/// own (the caller's for the first), its inputs and noise.
private final class Worker {
    let model: any VariationalModel
    let samples: Int
    private let input: Tensor
    private let condition: Tensor?
    private var noise = Tensor(shape: [0])
    /// One objective per slice size (K, and the last slice's).
    private var objectives: [Int: Objective] = [:]

    init(replicating original: any VariationalModel, _ isFirst: Bool, samples: Int, images: Int) {
        model = isFirst ? original : original.replica()
        self.samples = samples
        input = Tensor(shape: [images, original.configuration.inputSize])
        condition = original.configuration.classes > 0 ? Tensor(shape: [images, original.configuration.classes]) : nil
        model.reserve(batchSize: min(images * samples, model.importanceRowLimit))
    }

    /// −L_K of the images `range` into `out`.
    func bounds(_ range: Range<Int>, seed: UInt64, fill: (Range<Int>, Matrix, Matrix?) -> Void, into out: UnsafeMutablePointer<Double>) {
        let x = input.matrix(rows: range.count, columns: model.configuration.inputSize)
        let c = condition?.matrix(rows: range.count, columns: model.configuration.classes)
        fill(range, x, c)
        let limit = model.importanceRowLimit
        guard range.count * samples > limit else {
            var streams = range.map { RandomGenerator(seed: seed, stream: .importance, index: UInt64($0)) }
            let bounds = self.bounds(x, condition: c, draws: samples, streams: &streams)
            for i in 0..<range.count { out[i] = bounds[i] }
            return
        }
        // One image's draws in slices of S_j, combined:
        //   L_K = log Σ_j (S_j / K) · exp(L_{S_j}), with a log-sum-exp.
        precondition(range.count == 1, "split draws one image at a time")
        var streams = [RandomGenerator(seed: seed, stream: .importance, index: UInt64(range.lowerBound))]
        var terms: [Double] = []
        var done = 0
        while done < samples {
            let slice = min(limit, samples - done)
            terms.append(log(Double(slice) / Double(samples)) - self.bounds(x, condition: c, draws: slice, streams: &streams)[0])
            done += slice
        }
        let m = terms.max()!
        out[0] = -(m + log(terms.reduce(0) { $0 + exp($1 - m) }))
    }

    /// −L_draws of each row of x, row r's noise the next draws·width values of streams[r].
    private func bounds(_ x: Matrix, condition: Matrix?, draws: Int, streams: inout [RandomGenerator]) -> ArraySlice<Double> {
        let width = model.noisePerDraw, perImage = draws * width
        if noise.count < x.rows * perImage { noise = Tensor(shape: [x.rows * perImage]) }
        for r in 0..<x.rows { streams[r].fillNormal(noise.pointer + r * perImage, count: perImage) }
        let eps = noise.matrix(rows: x.rows * draws, columns: width)
        let objective = objectives[draws] ?? Objective(.importanceWeighted(samples: draws), model: model)
        objectives[draws] = objective
        _ = objective.forward(Batch(input: x, condition: condition), noise: eps, training: false)
        return objective.lastBoundPerImage
    }
}

extension VariationalModel {
    /// A second model of the same configuration and parameters, with buffers
    /// of its own (a model's passes are not to be run concurrently).
    func replica() -> any VariationalModel {
        let twin = configuration.family.makeModel(configuration)
        twin.parameters.values.pointer.update(from: parameters.values.pointer, count: parameters.count)
        return twin
    }
}
