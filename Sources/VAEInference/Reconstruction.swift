import VAEEngine
import VAEModels

/// Images through a model and back (`vae reconstruct`), optionally corrupted
/// first: how well it denoises.
public struct Reconstruction {
    public let clean: [[Float]]
    /// The encoder's inputs when corrupted, else nil.
    public let corrupted: [[Float]]?
    /// Decoded from each encoding's point (μ).
    public let reconstructions: [[Float]]
    /// Mean squared error per pixel against the clean images.
    public let reconstructionError: Double
    public let corruptedError: Double?
}

/// Each image corrupted (in order, from one generator seeded by `seed`), encoded and decoded from its point.
public func reconstruct(_ images: [[Float]], model: any VariationalModel, conditions: [[Float]]?,
                        corruption: Corruption?, seed: UInt64) -> Reconstruction {
    var rng = RandomGenerator(seed: seed, stream: .corruption)
    let corrupted = corruption.map { c in
        images.map { x in
            var out = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { c.apply(xp.baseAddress!, into: $0.baseAddress!, count: x.count, rng: &rng) }
            }
            return out
        }
    }
    let points = model.encodings(corrupted ?? images, conditions: conditions).map(\.point)
    let reconstructions = model.decodedIntensities(points, conditions: conditions)
    func meanError(_ a: [[Float]]) -> Double { zip(a, images).map(meanSquaredError).reduce(0, +) / Double(max(images.count, 1)) }
    return Reconstruction(clean: images, corrupted: corrupted, reconstructions: reconstructions,
                          reconstructionError: meanError(reconstructions), corruptedError: corrupted.map(meanError))
}
