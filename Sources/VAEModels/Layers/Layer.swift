import VAEEngine

/// What every layer of a model does, so an architecture is a list of layers.
///
/// Forward and backward are batched over rows: x (B, in) → y (B, out), and
/// backward takes dL/dy and returns dL/dx, accumulating parameter gradients
/// into the model's `ParameterStore` on the way. `inputGradient: false` lets a
/// layer whose input is data skip that last product.
public protocol Layer: AnyObject {
    /// Allocates the buffers for batches of up to `batchSize` rows (outside the step).
    func reserve(batchSize: Int)
    /// PyTorch's default initialisation of the layer's parameters, if any.
    func initialize(using rng: inout RandomGenerator)
    func forward(_ x: Matrix) -> Matrix
    @discardableResult
    func backward(_ dy: Matrix, inputGradient: Bool) -> Matrix
}

/// Layers in order (PyTorch's `nn.Sequential`): forward runs them first to
/// last, backward last to first.
public struct Network {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public func reserve(batchSize: Int) {
        for layer in layers { layer.reserve(batchSize: batchSize) }
    }

    public func initialize(using rng: inout RandomGenerator) {
        for layer in layers { layer.initialize(using: &rng) }
    }

    public func forward(_ x: Matrix) -> Matrix {
        layers.reduce(x) { h, layer in layer.forward(h) }
    }

    /// dL/dx from dL/dy; only the first layer may skip its input gradient.
    @discardableResult
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        var g = dy
        for (i, layer) in layers.enumerated().reversed() {
            g = layer.backward(g, inputGradient: i > 0 || inputGradient)
        }
        return g
    }
}

/// The hidden layers' nonlinearity, chosen with `--activation`.
public enum ActivationKind: String, CaseIterable, Sendable {
    case relu, tanh

    /// A fresh layer of this kind.
    public func makeLayer() -> any Layer {
        switch self {
        case .relu: ReLU()
        case .tanh: Tanh()
        }
    }
}
