import Foundation
import VAEData

/// The charts `vae` draws, from the numbers the library computed.
public enum Figures {
    /// Latent means coloured by class: the two dimensions of a 2-D space, or
    /// two principal components (`explained`: the fraction of the variance each carries).
    /// `classNames` label the legend (else the class numbers).
    public static func latentScatter(points: [(x: Double, y: Double)], labels: [Int?], classNames: [String]? = nil,
                                     dimensions: Int, explained: (Double, Double)?) -> Figure {
        let series = Chart.Series.points(zip(points, labels).map { .init(x: $0.x, y: $0.y, label: $1) })
        var chart = explained.map { explained in
            Chart(title: "Latent means μ(x), PCA of \(dimensions) dimensions",
                  xLabel: String(format: "PC1 (%.0f%% of the variance)", 100 * explained.0),
                  yLabel: String(format: "PC2 (%.0f%%)", 100 * explained.1), series: [series])
        } ?? Chart(title: "Latent means μ(x)", xLabel: "z₀", yLabel: "z₁", series: [series])
        chart.classNames = classNames
        chart.width = 720
        chart.height = 600
        return Figure(chart)
    }

    /// The ROC curve of each metric with its AUROC, beside histograms of one
    /// metric's normal and anomalous scores over `histogramRange`, with its
    /// threshold. A curve is its corners.
    public static func anomalyPlot(rocs: [(name: String, curve: [(x: Double, y: Double)], auroc: Double)], scores: [Double],
                                   anomalous: [Bool], threshold: Double, histogramRange: (Double, Double), scoreName: String,
                                   anomalyName: String) -> Figure {
        let title = rocs.count == 1 ? String(format: "ROC, AUROC %.3f", rocs[0].auroc) : "ROC of each metric"
        var rocChart = Chart(title: title, xLabel: "false positive rate", yLabel: "true positive rate",
                             series: [.line([(0, 0), (1, 1)], .grey, name: "chance", dashed: true)]
                                + rocs.enumerated().map { i, roc in
                                    .line(roc.curve, Chart.palette[i % Chart.palette.count],
                                          name: rocs.count == 1 ? roc.name : String(format: "%@ %.3f", roc.name, roc.auroc))
                                })
        rocChart.xRange = (0, 1)
        rocChart.yRange = (0, 1)
        rocChart.width = 520
        let (lower, upper) = histogramRange
        let normal = zip(scores, anomalous).filter { !$0.1 }.map(\.0), odd = zip(scores, anomalous).filter { $0.1 }.map(\.0)
        let normalBars = Chart.histogram(normal, lower: lower, upper: upper, bins: 50)
        let oddBars = Chart.histogram(odd, lower: lower, upper: upper, bins: 50)
        let top = ((normalBars + oddBars).map(\.height).max() ?? 1) * 1.05
        var histogram = Chart(title: "Scores on the test set", xLabel: scoreName, yLabel: "fraction of the set",
                              series: [.bars(normalBars, Chart.palette[0].opacity(0.5), name: "normal"),
                                       .bars(oddBars, Chart.palette[3].opacity(0.5), name: anomalyName),
                                       .line([(threshold, 0), (threshold, top)], .black, name: "threshold", dashed: true)])
        histogram.yRange = (0, top)
        histogram.width = 640
        return Figure(charts: [rocChart, histogram], columns: 2)
    }

    /// How a model uses each latent dimension, one chart per stochastic layer:
    /// its mean KL(q(z_i|x) ‖ p(z_i)) where the KL splits by dimension, else
    /// Cov_x(E_q[z_i|x]); active units (Burda et al. 2015: Cov_x(E_q[z_i|x]) > 0.01)
    /// in colour, the rest grey.
    public static func latentUse(layers: [(kl: [Double]?, activity: [Double], threshold: Double)]) -> Figure {
        let charts = layers.enumerated().map { index, layer -> Chart in
            let values = layer.kl ?? layer.activity
            let active = layer.activity.map { $0 > layer.threshold }
            let bars = values.indices.map { Chart.Bar(lower: Double($0) - 0.4, upper: Double($0) + 0.4, height: values[$0]) }
            let name = layers.count == 1 ? "z" : "z\(index + 1)"
            var series: [Chart.Series] = [.bars(zip(bars, active).filter { $0.1 }.map(\.0), Chart.palette[0], name: "active"),
                                          .bars(zip(bars, active).filter { !$0.1 }.map(\.0), .grey, name: "inactive")]
            if layer.kl == nil {
                series.append(.line([(-0.5, layer.threshold), (Double(values.count) - 0.5, layer.threshold)], .black,
                                    name: "threshold", dashed: true))
            }
            let activeCount = active.filter { $0 }.count
            var chart = Chart(title: "\(layer.kl == nil ? "Activity" : "KL") per dimension of \(name): \(activeCount) of \(values.count) units active",
                              xLabel: "dimension of \(name)",
                              yLabel: layer.kl == nil ? "Cov over x of E[zᵢ|x]" : "KL(q(zᵢ|x) ‖ p(zᵢ)), nats", series: series)
            chart.xRange = (-0.5, Double(values.count) - 0.5)
            chart.wholeXTicks = true
            chart.yRange = (0, max(1e-3, (values.max() ?? 1) * 1.08))
            chart.width = max(560, min(1000, 240 + 8 * Double(values.count)))
            chart.height = 400
            return chart
        }
        return Figure(charts: charts, columns: 1)
    }

    /// Groups of bars over named categories: for each category (a held-out
    /// digit), one bar per group (a metric), with an optional reference line.
    public static func groupedBars(title: String, categories: [String], groups: [(name: String, values: [Double])],
                                   xLabel: String, yLabel: String, yRange: (Double, Double)?,
                                   reference: (value: Double, name: String)? = nil) -> Figure {
        let width = 0.8 / Double(max(groups.count, 1))
        var series = groups.enumerated().map { g, group -> Chart.Series in
            let bars = group.values.enumerated().map { c, value in
                Chart.Bar(lower: Double(c) - 0.4 + Double(g) * width, upper: Double(c) - 0.4 + Double(g + 1) * width, height: value)
            }
            return .bars(bars, Chart.palette[g % Chart.palette.count], name: group.name)
        }
        if let reference {
            series.append(.line([(-0.5, reference.value), (Double(categories.count) - 0.5, reference.value)], .black,
                                name: reference.name, dashed: true))
        }
        var chart = Chart(title: title, xLabel: xLabel, yLabel: yLabel, series: series)
        chart.xTickNames = categories.enumerated().map { (Double($0.offset), $0.element) }
        chart.xRange = (-0.5, Double(categories.count) - 0.5)
        chart.yRange = yRange
        chart.width = max(640, 160 + 60 * Double(categories.count))
        return Figure(chart)
    }
}
