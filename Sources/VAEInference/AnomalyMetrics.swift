/// How well scores separate anomalies from normal items; a higher score means
/// "more anomalous". Ties are handled exactly as scikit-learn does.

/// Area under the ROC curve: the probability that a random anomaly scores
/// above a random normal item, ties counting one half (Mann–Whitney U / nA·nN,
/// with average ranks for tied scores).
public func areaUnderROC(scores: [Double], anomalous: [Bool]) -> Double {
    precondition(scores.count == anomalous.count)
    let nA = anomalous.filter { $0 }.count, nN = scores.count - nA
    precondition(nA > 0 && nN > 0, "AUROC needs both anomalies and normal items")
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var rankSum = 0.0, i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
        let averageRank = Double(i + j) / 2 + 1   // ranks i+1 ... j+1 share their mean
        for k in i...j where anomalous[order[k]] { rankSum += averageRank }
        i = j + 1
    }
    let u = rankSum - Double(nA) * Double(nA + 1) / 2
    return u / (Double(nA) * Double(nN))
}

/// Average precision: Σ_k (R_k − R_{k−1}) · P_k over the distinct score
/// thresholds from the highest down, where an item is flagged when its score
/// is at least the threshold (scikit-learn's `average_precision_score`).
public func averagePrecision(scores: [Double], anomalous: [Bool]) -> Double {
    let nA = anomalous.filter { $0 }.count
    precondition(nA > 0, "average precision needs anomalies")
    let order = scores.indices.sorted { scores[$0] > scores[$1] }
    var tp = 0, fp = 0, previousRecall = 0.0, ap = 0.0, i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
        for k in i...j { if anomalous[order[k]] { tp += 1 } else { fp += 1 } }
        let recall = Double(tp) / Double(nA)
        ap += (recall - previousRecall) * Double(tp) / Double(tp + fp)
        previousRecall = recall
        i = j + 1
    }
    return ap
}

/// The ROC curve's corners, (false-positive rate, true-positive rate), from (0, 0) to (1, 1).
public func rocCurve(scores: [Double], anomalous: [Bool]) -> [(x: Double, y: Double)] {
    let nA = Double(anomalous.filter { $0 }.count), nN = Double(anomalous.count) - nA
    let order = scores.indices.sorted { scores[$0] > scores[$1] }
    var points: [(x: Double, y: Double)] = [(0, 0)]
    var tp = 0.0, fp = 0.0, i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
        for k in i...j { if anomalous[order[k]] { tp += 1 } else { fp += 1 } }
        points.append((fp / max(nN, 1), tp / max(nA, 1)))
        i = j + 1
    }
    return points
}

/// The p-th percentile (0...100) with linear interpolation between order
/// statistics (numpy's default).
public func percentile(_ values: [Double], _ p: Double) -> Double {
    precondition(!values.isEmpty && (0...100).contains(p))
    let sorted = values.sorted()
    let position = p / 100 * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
    return sorted[lower] + (position - Double(lower)) * (sorted[upper] - sorted[lower])
}

/// What a threshold does: items scoring above it are flagged anomalous.
public struct ThresholdOutcome: Equatable {
    public let truePositives, falsePositives, trueNegatives, falseNegatives: Int

    public init(scores: [Double], anomalous: [Bool], threshold: Double) {
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (s, a) in zip(scores, anomalous) {
            switch (s > threshold, a) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        (truePositives, falsePositives, trueNegatives, falseNegatives) = (tp, fp, tn, fn)
    }

    public var falsePositiveRate: Double { Double(falsePositives) / Double(max(falsePositives + trueNegatives, 1)) }
    /// Recall.
    public var truePositiveRate: Double { Double(truePositives) / Double(max(truePositives + falseNegatives, 1)) }
    public var precision: Double { Double(truePositives) / Double(max(truePositives + falsePositives, 1)) }
}
