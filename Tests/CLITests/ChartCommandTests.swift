import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import VAEData
import XCTest

/// Every chart a command draws, end to end: training curves (train --plot,
/// plot curves), KL per dimension (eval --plot), labelled grids (--labels),
/// the anomaly plot and table; PDFs read back by pdftotext, SVGs parsed; and
/// the errors: no font, a bad JSON file, an unwritable or unknown output.
final class ChartCommandTests: XCTestCase {
    static let suite = SuiteModels("vae-charts", models: [
        "small": ["--epochs", "2", "--train-images", "3000", "--test-images", "300", "--hidden", "64", "--latent", "4",
                  "--plot", "small-curves.pdf"],
        "cond": ["--epochs", "1", "--train-images", "2000", "--test-images", "200", "--hidden", "64", "--latent", "2",
                 "--conditional", "--exclude-digits", "9"],
    ], json: true)

    override class func tearDown() { suite.remove() }
    override func setUpWithError() throws { try Self.suite.checkTrained() }

    var folder: String { Self.suite.folder }
    func vae(_ model: String, _ arguments: [String], environment: [String: String] = [:]) throws -> VAERun {
        try VAEBinary.run(arguments + ["--model", "\(model).safetensors"], in: folder,
                          environment: ["VAE_DATA": VAEBinary.data].merging(environment) { $1 })
    }
    func plain(_ arguments: [String], environment: [String: String] = [:]) throws -> VAERun {
        try VAEBinary.run(arguments, in: folder, environment: environment)
    }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: folder + "/" + name) }

    func pdfText(_ name: String) throws -> String { try readPDFText(folder + "/" + name) }

    func testTrainingCurvesFromTrainPlotAndFromJSONFiles() throws {
        // train --plot redrew the curves after each epoch; the PDF opens and holds its titles.
        let trained = try pdfText("small-curves.pdf")
        XCTAssertTrue(trained.contains("Loss (training) and −ELBO (test)"), trained)
        XCTAssertTrue(trained.contains("Reconstruction −log p(x|z)"), trained)
        // Two runs in one chart, a legend row per run and split.
        let run = try plain(["plot", "curves", "small.json", "cond.json", "-o", "both.pdf"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("2 epochs of small, 1 epochs of cond"), run.stdout)
        let both = try pdfText("both.pdf")
        for name in ["small, train", "small, test", "cond, train", "cond, test", "KL(q(z|x) ‖ p(z))", "epoch"] {
            XCTAssertTrue(both.contains(name), "\(name) in \(both)")
        }
        // A file that is not a training log: one line naming it, no chart.
        try Data("{\"auroc\": 0.5}".utf8).write(to: URL(fileURLWithPath: folder + "/other.json"))
        let bad = try plain(["plot", "curves", "other.json", "-o", "bad.png"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("other.json"), bad.stderr)
        XCTAssertFalse(exists("bad.png"))
        let unknown = try plain(["plot", "curves", "small.json", "-o", "curves.jpg"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains(".png, .svg or .pdf"), unknown.stderr)
    }

    func testResumedRunKeepsItsEarlierEpochs() throws {
        let flags = ["train", "--data", VAEBinary.data, "--train-images", "600", "--test-images", "100", "--hidden", "32",
                     "--latent", "2", "--threads", "2", "--model", "r.safetensors", "--json", "r.json"]
        XCTAssertEqual(try plain(flags + ["--epochs", "1"]).status, 0)
        let resumed = try plain(flags + ["--epochs", "3", "--resume", "--plot", "r.svg"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/r.json"))) as? [String: Any]
        let epochs = try XCTUnwrap(document?["epochs"] as? [[String: Any]])
        XCTAssertEqual(epochs.compactMap { $0["epoch"] as? Int }, [1, 2, 3])
        XCTAssertTrue(exists("r.svg"))
    }

    func testEvalPlotsKLPerDimension() throws {
        let run = try vae("small", ["eval", "--limit", "300", "--plot", "kl.pdf"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let text = try pdfText("kl.pdf")
        XCTAssertTrue(text.contains("KL per dimension of z"), text)
        XCTAssertTrue(text.contains("units active"), text)
        let png = try vae("small", ["eval", "--limit", "300", "--plot", "kl.png"])
        XCTAssertEqual(png.status, 0, png.stderr)
        XCTAssertEqual(try Picture.read(path: folder + "/kl.png").channels, 3)
    }

    func testLabelledGrids() throws {
        // A conditional grid: one row per class, named.
        let rows = try vae("cond", ["sample", "-n", "18", "--labels", "-o", "rows.pdf"])
        XCTAssertEqual(rows.status, 0, rows.stderr)
        let names = try pdfText("rows.pdf")
        for digit in 0..<9 { XCTAssertTrue(names.contains("\(digit)"), names) }
        // Traversal: the dimension on each row, the offset on each column.
        let traverse = try vae("small", ["traverse", "--dims", "0,3", "--steps", "5", "--range", "2", "--labels", "-o", "t.pdf"])
        XCTAssertEqual(traverse.status, 0, traverse.stderr)
        let axes = try pdfText("t.pdf")
        for name in ["z0", "z3", "−2", "−1", "+1", "+2"] { XCTAssertTrue(axes.contains(name), "\(name) in \(axes)") }
        // Interpolation steps; a manifold's coordinates; PNG output is a picture with the tiles in it.
        let strip = try vae("small", ["interpolate", "test:0", "test:1", "--steps", "5", "--labels", "-o", "i.png"])
        XCTAssertEqual(strip.status, 0, strip.stderr)
        let picture = try Picture.read(path: folder + "/i.png")
        XCTAssertGreaterThan(picture.width, 7 * 28)
        let manifold = try vae("cond", ["sample", "--manifold", "--nrow", "5", "--digit", "3", "--labels", "-o", "m.pdf"])
        XCTAssertEqual(manifold.status, 0, manifold.stderr)
        XCTAssertTrue(try pdfText("m.pdf").contains("−1.28"), "Φ⁻¹(0.1) names the first column")
        // Text needs a chart format; plain samples have nothing to name.
        let pgm = try vae("small", ["traverse", "--labels", "-o", "t.pgm"])
        XCTAssertNotEqual(pgm.status, 0)
        XCTAssertTrue(pgm.stderr.contains(".png, .svg or .pdf"), pgm.stderr)
        let plain = try vae("small", ["sample", "--labels", "-o", "s.png"])
        XCTAssertEqual(plain.status, 1)
        XCTAssertTrue(plain.stderr.contains("--labels"), plain.stderr)
        XCTAssertFalse(exists("s.png"))
    }

    func testAnomalyPlotAndTable() throws {
        let run = try vae("cond", ["anomaly", "--plot", "roc.svg", "--json", "a9.json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let parser = XMLParser(contentsOf: URL(fileURLWithPath: folder + "/roc.svg"))
        XCTAssertEqual(parser?.parse(), true, "the SVG parses")
        let table = try plain(["plot", "anomaly", "a9.json", "-o", "table.pdf"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let text = try pdfText("table.pdf")
        for name in ["AUROC per held-out class", "nelbo, latent 2", "9", "chance"] { XCTAssertTrue(text.contains(name), "\(name) in \(text)") }
    }

    func testNoFontOrNoFolderFailsBeforeAnyOutput() throws {
        // fontconfig with a configuration that names no font folder knows no font.
        let config = folder + "/no-fonts.conf"
        try Data("<?xml version=\"1.0\"?>\n<fontconfig><cachedir>\(folder)/fc-cache</cachedir></fontconfig>\n".utf8)
            .write(to: URL(fileURLWithPath: config))
        let run = try vae("small", ["encode", "test:0-9", "-o", "z.csv", "--plot", "z.png"], environment: ["FONTCONFIG_FILE": config])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("z.png") && run.stderr.contains("font"), run.stderr)
        XCTAssertFalse(exists("z.csv"), "nothing written when the chart cannot be drawn")
        XCTAssertFalse(exists("z.png"))
        let missing = try vae("small", ["eval", "--limit", "10", "--plot", "no/such/folder/kl.png"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("--plot no/such/folder/kl.png"), missing.stderr)
    }
}
