import VAEEngine

/// An architecture's layers over a parameter store, in the order a forward
/// pass runs them. A conditional model's label joins between `features` and
/// `encoder`, and again in front of `decoder`.
struct ArchitectureLayers {
    /// x → features, before the label joins: the convolutions (empty for mlp).
    var features: Network
    /// [features | label] → the last hidden layer.
    var encoder: Network
    /// last hidden → [μ | log σ²], the two heads as one product.
    var heads: Linear
    /// [z | label] → logits.
    var decoder: Network
}

extension VAEConfiguration {
    /// Every parameter under its PyTorch name, in memory order. For mlp:
    /// `encoder.i`, `mu`, `logvar`, `decoder.i` (the last being the output
    /// layer); for conv: `encoder.conv0`, `encoder.conv1`, `encoder.fc`, `mu`,
    /// `logvar`, `decoder.fc`, `decoder.deconv0`, `decoder.deconv1`. `mu` and
    /// `logvar` are adjacent (weights, then biases) so the heads run as one.
    public var parameterSpecs: [ParameterSpec] {
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
            width = hidden[0]
        }
        specs += [ParameterSpec(name: "mu.weight", shape: [latent, width]),
                  ParameterSpec(name: "logvar.weight", shape: [latent, width]),
                  ParameterSpec(name: "mu.bias", shape: [latent]),
                  ParameterSpec(name: "logvar.bias", shape: [latent])]
        width = latent + classes
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

    func layers(over store: ParameterStore) -> ArchitectureLayers {
        let heads = Linear(WeightAndBias(weight: store.values("mu.weight", "logvar.weight"),
                                         bias: store.values("mu.bias", "logvar.bias"),
                                         dWeight: store.gradients("mu.weight", "logvar.weight"),
                                         dBias: store.gradients("mu.bias", "logvar.bias")))
        switch architecture {
        case .mlp:
            // Every hidden layer is followed by the activation; the decoder's last layer gives logits.
            let encoder = hidden.indices.flatMap { [Linear(name: "encoder.\($0)", store: store), activation.makeLayer()] }
            let decoder = (0...hidden.count).flatMap { i -> [any Layer] in
                let layer = Linear(name: "decoder.\(i)", store: store)
                return i < hidden.count ? [layer, activation.makeLayer()] : [layer]
            }
            return ArchitectureLayers(features: Network([]), encoder: Network(encoder), heads: heads, decoder: Network(decoder))
        case .conv:
            // 3x3, stride 2, padding 1 halves the side: 28 → 14 → 7, and the
            // transposed convolutions (output padding 1) double it back.
            let side = imageSide ?? 0, quarter = convSide
            let conv0 = Conv2d(name: "encoder.conv0", store: store,
                               geometry: ConvolutionGeometry(channels: 1, height: side, width: side, kernel: 3, stride: 2, padding: 1))
            let conv1 = Conv2d(name: "encoder.conv1", store: store,
                               geometry: ConvolutionGeometry(channels: 32, height: side / 2, width: side / 2, kernel: 3, stride: 2, padding: 1))
            let deconv0 = ConvTranspose2d(name: "decoder.deconv0", store: store, inChannels: 64, outChannels: 32,
                                          height: quarter, width: quarter, kernel: 3, stride: 2, padding: 1, outputPadding: 1)
            let deconv1 = ConvTranspose2d(name: "decoder.deconv1", store: store, inChannels: 32, outChannels: 1,
                                          height: side / 2, width: side / 2, kernel: 3, stride: 2, padding: 1, outputPadding: 1)
            return ArchitectureLayers(
                features: Network([conv0, activation.makeLayer(), conv1, activation.makeLayer()]),
                encoder: Network([Linear(name: "encoder.fc", store: store), activation.makeLayer()]),
                heads: heads,
                decoder: Network([Linear(name: "decoder.fc", store: store), deconv0, activation.makeLayer(), deconv1]))
        }
    }
}
