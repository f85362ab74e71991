import VAEEngine

/// The two network shapes `vae` trains (`--arch`).
public enum Architecture: String, CaseIterable, Sendable {
    /// Fully connected: 784 → hidden… → the bottleneck, mirrored by the decoder.
    case mlp
    /// Two stride-2 3x3 convolutions (32, 64 channels), one fully connected
    /// layer, the bottleneck; the decoder mirrors it with transposed convolutions.
    case conv
}

/// The deterministic part of an encoder: x (and a conditional model's label)
/// → the last hidden layer h, which the bottleneck reads.
///
///   x (B, D) → features → [features | y] → hidden layers → h (B, outputSize)
public struct EncoderBody {
    /// x → features, before the label joins: the convolutions (empty for mlp).
    let features: Network
    let join: Concatenation
    /// [features | y] → h.
    let layers: Network
    public let outputSize: Int

    public func reserve(batchSize: Int, featureSize: Int) {
        features.reserve(batchSize: batchSize)
        layers.reserve(batchSize: batchSize)
        join.reserve(batchSize: batchSize, inputSize: featureSize)
    }

    public func initialize(using rng: inout RandomGenerator) {
        features.initialize(using: &rng)
        layers.initialize(using: &rng)
    }

    public func forward(_ x: Matrix, condition: Matrix?) -> Matrix {
        layers.forward(join.forward(features.forward(x), condition: condition))
    }

    /// False when h is x itself (an mlp without hidden layers): then nothing
    /// below h learns, and dL/dh need not be computed.
    public var needsOutputGradient: Bool { !features.layers.isEmpty || !layers.layers.isEmpty }

    /// The layers in reverse, from dL/dh; the first layer that sees data skips its input gradient.
    public func backward(_ dh: Matrix) {
        let hasFeatures = !features.layers.isEmpty
        let dJoined = layers.backward(dh, inputGradient: hasFeatures)
        if hasFeatures { features.backward(join.backward(dJoined), inputGradient: false) }
    }
}

/// A decoder: z (and the label) → logits (B, D); the image is σ(logits).
public struct DecoderBody {
    let join: Concatenation
    let layers: Network

    public func reserve(batchSize: Int, latentSize: Int) {
        layers.reserve(batchSize: batchSize)
        join.reserve(batchSize: batchSize, inputSize: latentSize)
    }

    public func initialize(using rng: inout RandomGenerator) { layers.initialize(using: &rng) }

    public func forward(_ z: Matrix, condition: Matrix?) -> Matrix {
        layers.forward(join.forward(z, condition: condition))
    }

    /// dL/dz from dL/dlogits.
    public func backward(_ dLogits: Matrix) -> Matrix { join.backward(layers.backward(dLogits)) }
}

extension ModelConfiguration {
    /// The encoder body's parameters under their PyTorch names: `encoder.i`
    /// (mlp), or `encoder.conv0`, `encoder.conv1`, `encoder.fc` (conv).
    public var encoderSpecs: [ParameterSpec] {
        var specs: [ParameterSpec] = []
        var width = featureSize + classes
        switch architecture {
        case .mlp:
            for (i, h) in hidden.enumerated() {
                specs += Linear.specs(name: "encoder.\(i)", inputSize: width, outputSize: h)
                width = h
            }
        case .conv:
            specs += Conv2d.specs(name: "encoder.conv0", inChannels: 1, outChannels: 32, kernel: 3)
            specs += Conv2d.specs(name: "encoder.conv1", inChannels: 32, outChannels: 64, kernel: 3)
            specs += Linear.specs(name: "encoder.fc", inputSize: width, outputSize: hidden[0])
        }
        return specs
    }

    /// The width of h, the encoder body's output: the last hidden width, or
    /// the pixels of an mlp without hidden layers.
    public var encoderOutputSize: Int { hidden.last ?? featureSize + classes }

    /// The decoder's parameters, reading `latentSize` values (plus the label):
    /// `decoder.i` (mlp; the last is the output layer), or `decoder.fc`,
    /// `decoder.deconv0`, `decoder.deconv1` (conv).
    public func decoderSpecs(latentSize: Int) -> [ParameterSpec] {
        var specs: [ParameterSpec] = []
        var width = latentSize + classes
        switch architecture {
        case .mlp:
            for (i, h) in (Array(hidden.reversed()) + [inputSize]).enumerated() {
                specs += Linear.specs(name: "decoder.\(i)", inputSize: width, outputSize: h)
                width = h
            }
        case .conv:
            specs += Linear.specs(name: "decoder.fc", inputSize: width, outputSize: featureSize)
            specs += ConvTranspose2d.specs(name: "decoder.deconv0", inChannels: 64, outChannels: 32, kernel: 3)
            specs += ConvTranspose2d.specs(name: "decoder.deconv1", inChannels: 32, outChannels: 1, kernel: 3)
        }
        return specs
    }

    /// The width of what the encoder has made of x when the label joins:
    /// the pixels for mlp; for conv, 64 channels at a quarter of the side
    /// (64·7·7 = 3136 for MNIST). The conv decoder's linear layer produces as many.
    var featureSize: Int { architecture == .conv ? 64 * convSide * convSide : inputSize }
    private var convSide: Int { (imageSide ?? 0) / 4 }

    /// The encoder body over a store holding `encoderSpecs`. Every hidden
    /// layer is followed by the activation.
    public func encoderBody(over store: ParameterStore) -> EncoderBody {
        let join = Concatenation(conditionSize: classes)
        switch architecture {
        case .mlp:
            let layers = hidden.indices.flatMap { [Linear(name: "encoder.\($0)", store: store), activation.makeLayer()] }
            return EncoderBody(features: Network([]), join: join, layers: Network(layers), outputSize: encoderOutputSize)
        case .conv:
            // 3x3, stride 2, padding 1 halves the side: 28 → 14 → 7.
            let side = imageSide ?? 0
            let conv0 = Conv2d(name: "encoder.conv0", store: store,
                               geometry: ConvolutionGeometry(channels: 1, height: side, width: side, kernel: 3, stride: 2, padding: 1))
            let conv1 = Conv2d(name: "encoder.conv1", store: store,
                               geometry: ConvolutionGeometry(channels: 32, height: side / 2, width: side / 2, kernel: 3, stride: 2, padding: 1))
            return EncoderBody(features: Network([conv0, activation.makeLayer(), conv1, activation.makeLayer()]), join: join,
                               layers: Network([Linear(name: "encoder.fc", store: store), activation.makeLayer()]),
                               outputSize: encoderOutputSize)
        }
    }

    /// The decoder over a store holding `decoderSpecs`; its last layer gives logits.
    public func decoderBody(over store: ParameterStore) -> DecoderBody {
        let join = Concatenation(conditionSize: classes)
        switch architecture {
        case .mlp:
            let layers = (0...hidden.count).flatMap { i -> [any Layer] in
                let layer = Linear(name: "decoder.\(i)", store: store)
                return i < hidden.count ? [layer, activation.makeLayer()] : [layer]
            }
            return DecoderBody(join: join, layers: Network(layers))
        case .conv:
            // The transposed convolutions (output padding 1) double the side: 7 → 14 → 28.
            let side = imageSide ?? 0, quarter = convSide
            let deconv0 = ConvTranspose2d(name: "decoder.deconv0", store: store, inChannels: 64, outChannels: 32,
                                          height: quarter, width: quarter, kernel: 3, stride: 2, padding: 1, outputPadding: 1)
            let deconv1 = ConvTranspose2d(name: "decoder.deconv1", store: store, inChannels: 32, outChannels: 1,
                                          height: side / 2, width: side / 2, kernel: 3, stride: 2, padding: 1, outputPadding: 1)
            return DecoderBody(join: join,
                               layers: Network([Linear(name: "decoder.fc", store: store), deconv0, activation.makeLayer(), deconv1]))
        }
    }
}
