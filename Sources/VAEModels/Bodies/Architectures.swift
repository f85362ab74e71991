import VAEEngine

import VAEData

/// The two network shapes `vae` trains (`--arch`).
public enum Architecture: String, CaseIterable, Sendable {
    /// Fully connected: C·H·W → hidden… → the bottleneck, mirrored by the decoder.
    case mlp
    /// Stride-2 3x3 convolutions (32, 64 channels by default, one per entry of
    /// `--conv-channels`), one fully connected layer, the bottleneck; the
    /// decoder mirrors it with transposed convolutions.
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
            for (i, stage) in convStages.dropFirst().enumerated() {
                specs += Conv2d.specs(name: "encoder.conv\(i)", inChannels: convStages[i].channels, outChannels: stage.channels, kernel: 3)
            }
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
            for (j, (from, to)) in zip(convStages.reversed(), convStages.reversed().dropFirst()).enumerated() {
                specs += ConvTranspose2d.specs(name: "decoder.deconv\(j)", inChannels: from.channels, outChannels: to.channels, kernel: 3)
            }
        }
        return specs
    }

    /// What each conv stage sees: the image, then each stage's output.
    /// 3x3, stride 2, padding 1 takes a side s to ⌈s/2⌉ (28 → 14 → 7); the
    /// transposed convolutions give it back exactly, with an output padding
    /// of 1 where s was even and 0 where it was odd.
    var convStages: [(channels: Int, height: Int, width: Int)] {
        var stages = [(shape.channels, shape.height, shape.width)]
        for c in convChannels {
            let last = stages[stages.count - 1]
            stages.append((c, (last.1 + 1) / 2, (last.2 + 1) / 2))
        }
        return stages
    }

    /// The width of what the encoder has made of x when the label joins:
    /// the pixels for mlp; for conv, the last stage's channels and pixels
    /// (64·7·7 = 3136 for MNIST). The conv decoder's linear layer produces as many.
    var featureSize: Int {
        guard architecture == .conv, let last = convStages.last else { return inputSize }
        return last.channels * last.height * last.width
    }

    /// The encoder body over a store holding `encoderSpecs`. Every hidden
    /// layer is followed by the activation.
    public func encoderBody(over store: ParameterStore) -> EncoderBody {
        let join = Concatenation(conditionSize: classes)
        switch architecture {
        case .mlp:
            let layers = hidden.indices.flatMap { [Linear(name: "encoder.\($0)", store: store), activation.makeLayer()] }
            return EncoderBody(features: Network([]), join: join, layers: Network(layers), outputSize: encoderOutputSize)
        case .conv:
            let stages = convStages
            let features = stages.dropLast().enumerated().flatMap { i, input -> [any Layer] in
                [Conv2d(name: "encoder.conv\(i)", store: store,
                        geometry: ConvolutionGeometry(channels: input.channels, height: input.height, width: input.width,
                                                      kernel: 3, stride: 2, padding: 1)),
                 activation.makeLayer()]
            }
            return EncoderBody(features: Network(features), join: join,
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
            // Each transposed convolution gives back one stage's size: 7 → 14 → 28.
            let stages = Array(convStages.reversed())
            var layers: [any Layer] = [Linear(name: "decoder.fc", store: store)]
            let columns = SharedBuffer()   // each layer needs its columns only within a pass
            for (j, (from, to)) in zip(stages, stages.dropFirst()).enumerated() {
                if j > 0 { layers.append(activation.makeLayer()) }
                layers.append(ConvTranspose2d(name: "decoder.deconv\(j)", store: store, inChannels: from.channels, outChannels: to.channels,
                                              height: from.height, width: from.width, kernel: 3, stride: 2, padding: 1,
                                              outputPadding: (to.height - (2 * from.height - 1), to.width - (2 * from.width - 1)),
                                              sharedColumns: columns))
            }
            return DecoderBody(join: join, layers: Network(layers))
        }
    }
}

/// Linear layers with an activation after each (or each but the last), named
/// as PyTorch's `nn.Sequential(Linear, Tanh, Linear, Tanh, …)` names them:
/// `prefix.0`, `prefix.2`, … (the activations take the odd places). The
/// hierarchical and flow families' networks, as torch_families.py builds them.
public enum SequentialMLP {
    /// The layers of sizes[0] → sizes[1] → … → sizes.last.
    public static func specs(prefix: String, sizes: [Int]) -> [ParameterSpec] {
        zip(sizes, sizes.dropFirst()).enumerated().flatMap { i, pair in
            Linear.specs(name: "\(prefix).\(2 * i)", inputSize: pair.0, outputSize: pair.1)
        }
    }

    public static func network(prefix: String, layers: Int, activation: ActivationKind, activateLast: Bool,
                               store: ParameterStore) -> Network {
        Network((0..<layers).flatMap { i -> [any Layer] in
            let linear = Linear(name: "\(prefix).\(2 * i)", store: store)
            return i < layers - 1 || activateLast ? [linear, activation.makeLayer()] : [linear]
        })
    }
}
