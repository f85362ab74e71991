import Foundation
import VAEEngine

/// What every VAE family does. The trainer, checkpoints, inference,
/// scoring, evaluation, sampling, augmentation and the benchmark talk to
/// this protocol only, so a family (a Gaussian posterior, a second
/// stochastic layer, flow steps, a vector quantiser) is one type that
/// implements it, registered in `ModelFamily`.
///
/// Matrices a model returns are views of its own buffers: valid until its
/// next pass.
public protocol VariationalModel: AnyObject {
    var configuration: ModelConfiguration { get }
    /// Every parameter, under PyTorch's names, in one block (and its gradients in another).
    var parameters: ParameterStore { get }

    /// PyTorch's default initialisation of every layer, in forward order, from one seeded stream.
    func initialize(seed: UInt64)
    /// Sizes every buffer for passes of up to `batchSize` rows (once, outside the step).
    func reserve(batchSize: Int)

    // MARK: the objective

    /// Standard-normal values one draw of z takes (the latent size for a
    /// Gaussian posterior); 0 when nothing is drawn.
    var noisePerDraw: Int { get }

    /// The terms `forward` returns, in order, for an estimate of the divergences.
    func lossTerms(_ estimate: DivergenceEstimate) -> [LossTerm]

    /// Runs the model on a batch with `draws` draws of z per image (noise
    /// (B·draws, noisePerDraw), an image's draws adjacent) and returns each
    /// loss term per draw. With `training`, keeps what `backward` needs;
    /// without it (a measurement), skips what only `backward` would read.
    func forward(_ batch: Batch, noise: Matrix, draws: Int, estimate: DivergenceEstimate, training: Bool) -> DrawTerms

    /// Accumulates into `parameters.gradients` the gradient of
    ///   Σ_r w_r Σ_t weight_t(β) · term_t,r
    /// over the draws r of the last `forward` (w nil: every w_r = 1).
    func backward(drawWeights: UnsafePointer<Float>?, beta: Float)

    // MARK: using a trained model

    /// Dimensions of the decoder's input z.
    var latentSize: Int { get }
    /// True when the prior is a diagonal Gaussian over z itself given the
    /// class, N(0, I) or a learned N(μ_y, σ_y²), so its quantiles and ±3σ
    /// ranges mean something (`sample --manifold`, `traverse`, `--temperature`):
    /// z = μ_y + σ_y ⊙ u with u ~ N(0, I) (`placeInPrior`).
    var hasGaussianPrior: Bool { get }

    /// q(z|x, y) of a batch (x (B, D) in [0, 1]; condition (B, classes) or nil).
    func encode(_ x: Matrix, condition: Matrix?) -> Encoding
    /// p(x|z, y): z (B, latentSize) → logits (B, D).
    func decode(_ z: Matrix, condition: Matrix?) -> Matrix
    /// The likelihood's mean image σ(logits) (B, D): the pictures the model draws.
    func decodeMeans(_ z: Matrix, condition: Matrix?) -> Matrix
    /// `draws` draws z ~ q(z|x, y) per image (noise (B·draws, noisePerDraw)) → (B·draws, latentSize).
    func drawPosterior(_ x: Matrix, condition: Matrix?, noise: Matrix, draws: Int) -> Matrix
    /// Fills z (n, latentSize) with draws from the prior p(z | y).
    func drawPrior(into z: Matrix, condition: Matrix?, rng: inout RandomGenerator)
    /// For a Gaussian prior: standard-normal coordinates u (n, latentSize) →
    /// z = μ_y + σ_y ⊙ u in place (nothing to do for N(0, I)).
    func placeInPrior(_ u: Matrix, condition: Matrix?)
    /// Why `drawPrior` cannot be called (a VQ-VAE before its prior is trained), or nil.
    var priorProblem: String? { get }
}

public extension VariationalModel {
    var priorProblem: String? { nil }
    func placeInPrior(_ u: Matrix, condition: Matrix?) {}

    /// The bias of the layer that gives the logits, one per pixel: a fully
    /// connected decoder's last layer (`decoder.N` or `px.N`, the last bias
    /// of the image's size in forward order). nil for convolutional decoders,
    /// whose last bias is one per channel (and whose fully connected layer's
    /// bias can have the image's size without being the output's).
    var pixelLogitBias: Matrix? {
        let d = configuration.inputSize
        guard configuration.architecture == .mlp, let slot = parameters.slots.last(where: { slot in
            (slot.spec.name.hasPrefix("decoder.") || slot.spec.name.hasPrefix("px.")) && slot.spec.name.hasSuffix(".bias")
                && slot.spec.shape == [d]
        }) else { return nil }
        return parameters.values(slot.spec.name)
    }

    /// Starts the decoder at the mean image: each pixel's logit bias set to
    /// log(m / (1 − m)), m its mean over the training images clipped to
    /// [0.001, 0.999], as Burda et al.'s IWAE code initialises its output
    /// layer. With the weights near zero the model then draws the mean image
    /// from the first step, and the gradients go to what differs from it.
    /// False when the decoder has no bias per pixel.
    @discardableResult
    func startAtMeanImage(_ mean: [Double]) -> Bool {
        guard let bias = pixelLogitBias, mean.count == bias.columns else { return false }
        for (i, m) in mean.enumerated() {
            let p = min(max(m, 0.001), 0.999)
            bias.pointer[i] = Float(log(p / (1 - p)))
        }
        return true
    }
}

/// A batch as a model sees it. The encoder reads `input`, the likelihood
/// scores `target`: the same images, or for a denoising VAE (Im et al. 2017)
/// a corrupted input and the clean target.
public struct Batch {
    /// x̃ (B, D).
    public let input: Matrix
    /// x (B, D).
    public let target: Matrix
    /// y (B, classes): a conditional model's one-hot labels, else nil.
    public let condition: Matrix?

    public init(input: Matrix, target: Matrix? = nil, condition: Matrix? = nil) {
        precondition(target.map { $0.rows == input.rows && $0.columns == input.columns } ?? true, "input and target differ in shape")
        self.input = input
        self.target = target ?? input
        self.condition = condition
    }

    public var count: Int { input.rows }
}

/// What an encoder says of a batch of images (views into the model's buffers).
public struct Encoding {
    /// q(z_i|·) of each stochastic layer, the one nearest the data first.
    public let layers: [DiagonalGaussian]
    /// Where each image stands in the decoder's latent space (B, latentSize):
    /// μ for a Gaussian posterior. Reconstruction, interpolation and latent
    /// arithmetic start from it.
    public let point: ColumnSlice
    /// A VQ-VAE's code per grid position, image by image in raster order.
    public let codes: [Int32]?
    /// The encoder's representation of each image (B, ·): its last hidden
    /// layer, which the posterior's heads read (z_e itself for a VQ-VAE,
    /// which has no heads). Deep nearest-neighbour scores compare these, as
    /// Sun et al. 2022 compare a network's penultimate layer.
    public let features: ColumnSlice

    public init(layers: [DiagonalGaussian], point: ColumnSlice, codes: [Int32]? = nil, features: Matrix? = nil) {
        self.layers = layers
        self.point = point
        self.codes = codes
        self.features = features.map { ColumnSlice($0, columns: 0..<$0.columns) } ?? point
    }

    public var count: Int { point.rows }
}

/// Each loss term of a forward pass, per draw: rows b·draws … b·draws + draws − 1
/// belong to image b.
public struct DrawTerms {
    public let terms: [LossTerm]
    /// One (images·draws, 1) view per term.
    public let values: [Matrix]
    public let images: Int
    public let draws: Int

    public init(terms: [LossTerm], values: [Matrix], images: Int, draws: Int) {
        precondition(terms.count == values.count && values.allSatisfy { $0.rows == images * draws })
        self.terms = terms
        self.values = values
        self.images = images
        self.draws = draws
    }

    public var rows: Int { images * draws }
}
