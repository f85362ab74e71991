import ArgumentParser
import Foundation
import VAEData
import VAEPlots

/// `vae plot`: charts from the JSON files other commands write.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw charts from the JSON files of vae train --json and vae anomaly --json, as PNG, SVG or PDF.",
        subcommands: [Curves.self, AnomalyTable.self])

    struct Curves: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "curves",
            abstract: "Training curves: the loss and test −ELBO per epoch, and each part of the objective, one colour per run.",
            discussion: "Each RUN.json is a file written by vae train --json; the legend names each run after its file. Training figures are solid, test figures dashed.")

        @Argument(help: ArgumentHelp("Files written by vae train --json.", valueName: "RUN.json"))
        var runs: [String]

        @Option(name: .short, help: ArgumentHelp("The chart: .png, .svg or .pdf.", valueName: "path"))
        var output = "curves.png"

        func validate() throws {
            guard !runs.isEmpty else { throw ValidationError("give at least one RUN.json (written by vae train --json)") }
            guard runs.count <= Chart.palette.count else {
                throw ValidationError("at most \(Chart.palette.count) runs fit one chart's colours, got \(runs.count)")
            }
            try checkChartExtension(output, flag: "-o")
        }

        func run() throws {
            try checkChartOutput(output, flag: "-o")
            let histories = try runs.map(RunHistory.init(path:))
            try Figures.trainingCurves(histories).write(to: output)
            print("plotted \(histories.map { "\($0.epochs.count) epochs of \($0.name)" }.joined(separator: ", ")) to \(output)")
        }
    }

    struct AnomalyTable: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "anomaly",
            abstract: "The held-out-class table as grouped bars: AUROC (or average precision) per anomalous class, one bar per metric and latent size.",
            discussion: "Each A.json is a file written by vae anomaly --json (Scripts/anomaly-table.sh writes one per held-out digit, latent size and metric). Bars are grouped by the anomalous class; a group's bars are the files' metric and latent size.")

        @Argument(help: ArgumentHelp("Files written by vae anomaly --json.", valueName: "A.json"))
        var results: [String]

        @Option(help: "What the bars show.")
        var value: Measure = .auroc

        @Option(name: .short, help: ArgumentHelp("The chart: .png, .svg or .pdf.", valueName: "path"))
        var output = "anomaly-table.png"

        enum Measure: String, CaseIterable, ExpressibleByArgument {
            case auroc
            case averagePrecision = "average-precision"
            var key: String { self == .auroc ? "auroc" : "average_precision" }
        }

        func validate() throws {
            guard !results.isEmpty else { throw ValidationError("give at least one A.json (written by vae anomaly --json)") }
            try checkChartExtension(output, flag: "-o")
        }

        func run() throws {
            try checkChartOutput(output, flag: "-o")
            var cells: [(category: String, group: String, value: Double)] = []
            for path in results {
                let bytes = try readFile(path, limit: 16 << 20)
                let doc = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
                // One metric's figures at the top level, or --metric all's list of them.
                let entries = (doc?["metrics"] as? [[String: Any]]) ?? doc.map { [$0] } ?? []
                let figures = entries.compactMap { entry -> (String, Double)? in
                    guard let metric = entry["metric"] as? String, let number = (entry[value.key] as? NSNumber)?.doubleValue else { return nil }
                    return (metric, number)
                }
                guard let classes = doc?["anomaly_classes"] as? [String], !figures.isEmpty, figures.count == entries.count else {
                    throw FileError(path, "expected the file vae anomaly --json writes (\(value.key), anomaly_classes, metric)")
                }
                let latent = (doc?["latent"] as? NSNumber).map { ", latent \($0.intValue)" } ?? ""
                cells += figures.map { (classes.joined(separator: ","), $0.0 + latent, $0.1) }
            }
            let categories = ordered(cells.map(\.category))
            let groups = ordered(cells.map(\.group)).map { group in
                (name: group, values: categories.map { c in cells.last { $0.category == c && $0.group == group }?.value ?? .nan })
            }
            guard groups.count <= Chart.palette.count else {
                throw CLIError("\(groups.count) metric and latent-size groups: at most \(Chart.palette.count) fit one chart's colours")
            }
            let name = value == .auroc ? "AUROC" : "average precision"
            // The same figures as a Markdown table: a row per group, a column per class, and their mean.
            print("| \(name) | " + categories.joined(separator: " | ") + " | mean |")
            print("| --- |" + String(repeating: " --- |", count: categories.count + 1))
            for group in groups {
                let known = group.values.filter(\.isFinite)
                let cells = group.values.map { $0.isFinite ? String(format: "%.3f", $0) : "–" }
                print("| \(group.name) | " + cells.joined(separator: " | ") + " | "
                      + (known.count == categories.count ? String(format: "%.3f", known.reduce(0, +) / Double(known.count)) : "–") + " |")
            }
            try Figures.groupedBars(title: "\(name) per held-out class", categories: categories, groups: groups,
                                    xLabel: "anomalous (held-out) class", yLabel: name, yRange: (0, 1),
                                    reference: value == .auroc ? (0.5, "chance") : nil).write(to: output)
            print("plotted \(name) of \(categories.count) held-out classes, \(groups.count) groups, to \(output)")
        }

        /// Distinct values in the order first seen, numbers in numeric order.
        private func ordered(_ values: [String]) -> [String] {
            let distinct = values.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            return distinct.allSatisfy { Int($0) != nil } ? distinct.sorted { Int($0)! < Int($1)! } : distinct
        }
    }
}
