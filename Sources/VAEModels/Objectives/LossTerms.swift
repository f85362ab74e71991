/// One named term of an objective: what it is called in the progress line,
/// `--json`, checkpoint metadata and `vae eval`, how it is weighted in the
/// loss trained on, and whether it is part of the bound on −log p(x).
public struct LossTerm: Equatable, Hashable, Sendable {
    public enum Role: Hashable, Sendable {
        /// −log p(x|z): weight 1, part of the bound.
        case reconstruction
        /// A KL term: weight β, part of the bound.
        case divergence
        /// A bound in its own right (the importance-weighted −L_K): weight 1, the whole bound.
        case bound
        /// Trained on with a fixed weight, not part of the bound (a commitment loss).
        case penalty(weight: Double)
    }

    /// The key in JSON and checkpoint metadata ("recon", "kl", "iw_bound").
    public let name: String
    /// As printed ("recon", "KL", "IW bound").
    public let label: String
    /// In a sentence ("the KL term is not finite").
    public let phrase: String
    public let role: Role

    public init(name: String, label: String, phrase: String, role: Role) {
        self.name = name
        self.label = label
        self.phrase = phrase
        self.role = role
    }

    /// −log p(x|z) (Kingma & Welling 2013, eq. 3).
    public static let reconstruction = LossTerm(name: "recon", label: "recon", phrase: "reconstruction term", role: .reconstruction)
    /// KL(q(z|x) ‖ p(z)), or its sampled estimate.
    public static let kl = LossTerm(name: "kl", label: "KL", phrase: "KL term", role: .divergence)
    /// −L_K, the importance-weighted bound (Burda et al. 2015).
    public static let importanceWeightedBound = LossTerm(name: "iw_bound", label: "IW bound",
                                                         phrase: "importance-weighted bound", role: .bound)

    /// Its weight in the loss trained on.
    public func weight(beta: Double) -> Double {
        switch role {
        case .reconstruction, .bound: 1
        case .divergence: beta
        case .penalty(let weight): weight
        }
    }

    /// Whether it is a part of the bound on −log p(x) (with β = 1).
    public var isPartOfBound: Bool {
        if case .penalty = role { return false }
        return true
    }
}

/// The terms of an objective summed over `count` samples, in a fixed order
/// (the model's): for a VAE, reconstruction and KL (Kingma & Welling 2013,
/// eq. 3), −ELBO(x) = E_q[−log p(x|z)] + KL(q(z|x) ‖ p(z)).
public struct LossTerms: Equatable, Sendable {
    public private(set) var terms: [LossTerm]
    public private(set) var sums: [Double]
    public private(set) var count: Int

    /// Zero sums of these terms.
    public init(_ terms: [LossTerm]) {
        self.terms = terms
        self.sums = Array(repeating: 0, count: terms.count)
        self.count = 0
    }

    public init(_ terms: [LossTerm], sums: [Double], count: Int) {
        precondition(terms.count == sums.count)
        self.terms = terms
        self.sums = sums
        self.count = count
    }

    /// Adds `count` more samples whose terms summed to `sums`.
    public mutating func add(_ sums: [Double], count: Int) {
        precondition(sums.count == self.sums.count)
        for i in sums.indices { self.sums[i] += sums[i] }
        self.count += count
    }

    public static func + (a: LossTerms, b: LossTerms) -> LossTerms {
        precondition(a.terms == b.terms, "adding the terms of different objectives")
        var sum = a
        sum.add(b.sums, count: b.count)
        return sum
    }

    /// The summed value of a term, if present.
    public func sum(_ term: LossTerm) -> Double? { terms.firstIndex(of: term).map { sums[$0] } }

    /// A term per sample (0 when absent or there are no samples).
    public func perSample(_ term: LossTerm) -> Double { (sum(term) ?? 0) / Double(max(count, 1)) }

    /// The loss trained on, Σ_t weight_t(β) · term_t, summed.
    public func loss(beta: Double) -> Double {
        zip(terms, sums).reduce(0) { $0 + $1.0.weight(beta: beta) * $1.1 }
    }

    /// The terms that make up the bound on −log p(x).
    public var boundTerms: [LossTerm] { terms.filter(\.isPartOfBound) }

    /// The bound on −log p(x) per sample: −ELBO, or −L_K (with β = 1).
    public var boundPerSample: Double {
        zip(terms, sums).filter { $0.0.isPartOfBound }.reduce(0) { $0 + $1.1 } / Double(max(count, 1))
    }

    /// Every term per sample, by name: what JSON and metadata record.
    public var perSampleByName: [(name: String, value: Double)] {
        terms.map { ($0.name, perSample($0)) }
    }
}
