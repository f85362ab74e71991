import VAEEngine

/// y = tanh(x), in place: forward overwrites x with y and keeps the view;
/// backward uses dy/dx = 1 − y², so it needs only the output.
public final class Tanh {
    private var output: Matrix?

    public init() {}

    public func forward(_ x: Matrix) -> Matrix {
        let p = x.pointer
        for i in 0..<x.count { p[i] = tanh(p[i]) }
        output = x
        return x
    }

    /// dL/dx = dL/dy · (1 − y²), in place in dy.
    public func backward(_ dy: Matrix) -> Matrix {
        guard let y = output else { preconditionFailure("Tanh.backward before forward") }
        precondition(dy.count == y.count)
        let g = dy.pointer, p = y.pointer
        for i in 0..<dy.count { g[i] *= 1 - p[i] * p[i] }
        return dy
    }
}

/// The hidden layers' nonlinearity, chosen with `--activation`.
public enum ActivationKind: String, CaseIterable, Sendable {
    case relu, tanh
}

/// One hidden activation of either kind, so a model holds a list of them.
enum Activation {
    case relu(ReLU)
    case tanh(Tanh)

    init(_ kind: ActivationKind) {
        switch kind {
        case .relu: self = .relu(ReLU())
        case .tanh: self = .tanh(Tanh())
        }
    }

    func forward(_ x: Matrix) -> Matrix {
        switch self {
        case .relu(let layer): layer.forward(x)
        case .tanh(let layer): layer.forward(x)
        }
    }

    func backward(_ dy: Matrix) -> Matrix {
        switch self {
        case .relu(let layer): layer.backward(dy)
        case .tanh(let layer): layer.backward(dy)
        }
    }
}
