import Foundation
import VAEData

/// The charts `vae` draws, from the numbers the library computed.
public enum Figures {
    /// Latent means coloured by class: the two dimensions of a 2-D space, or
    /// two principal components (`explained`: the fraction of the variance each carries).
    /// `classNames` label the legend (else the class numbers).
    public static func latentScatter(points: [(x: Double, y: Double)], labels: [Int?], classNames: [String]? = nil,
                                     dimensions: Int, explained: (Double, Double)?) -> RGBImage {
        let series = Chart.Series.points(zip(points, labels).map { .init(x: $0.x, y: $0.y, label: $1) })
        var chart = explained.map { explained in
            Chart(title: String(format: "LATENT MEANS, PCA OF %d DIMENSIONS", dimensions),
                  xLabel: String(format: "PC1 (%.0f%%)", 100 * explained.0),
                  yLabel: String(format: "PC2 (%.0f%%)", 100 * explained.1), series: [series])
        } ?? Chart(title: "LATENT MEANS", xLabel: "Z0", yLabel: "Z1", series: [series])
        chart.classNames = classNames
        return chart.render()
    }

    /// The ROC curve with its AUROC, beside histograms of the normal and
    /// anomalous scores over `histogramRange`, with the threshold. `roc`: the curve's corners.
    public static func anomalyPlot(roc: [(x: Double, y: Double)], auroc: Double, scores: [Double], anomalous: [Bool],
                                   threshold: Double, histogramRange: (Double, Double), scoreName: String,
                                   anomalyName: String) -> RGBImage {
        var rocChart = Chart(title: String(format: "ROC, AUROC %.3f", auroc), xLabel: "FALSE POSITIVE RATE",
                             yLabel: "TRUE POSITIVE RATE",
                             series: [.line([(0, 0), (1, 1)], .grey), .line(roc, Chart.palette[0])])
        rocChart.xRange = (0, 1)
        rocChart.yRange = (0, 1)
        rocChart.width = 560
        rocChart.legend = [("ROC", Chart.palette[0]), ("CHANCE", .grey)]
        let (lower, upper) = histogramRange
        let normal = zip(scores, anomalous).filter { !$0.1 }.map(\.0), odd = zip(scores, anomalous).filter { $0.1 }.map(\.0)
        var histogram = Chart(title: "SCORES ON THE TEST SET", xLabel: scoreName, yLabel: "FRACTION",
                              series: [.bars(Chart.histogram(normal, lower: lower, upper: upper, bins: 50), Chart.palette[0]),
                                       .bars(Chart.histogram(odd, lower: lower, upper: upper, bins: 50), Chart.palette[3])])
        let top = (histogram.series.compactMap { s -> Double? in
            if case .bars(let b, _) = s { return b.map(\.height).max() } else { return nil } }.max() ?? 1) * 1.05
        histogram.series.append(.line([(threshold, 0), (threshold, top)], .black))
        histogram.yRange = (0, top)
        histogram.width = 640
        histogram.legend = [("NORMAL", Chart.palette[0]), (anomalyName, Chart.palette[3]), ("THRESHOLD", .black)]
        return RGBImage.sideBySide([rocChart.render(), histogram.render()])
    }
}
