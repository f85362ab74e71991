import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import VAEData
import VAEPlots
import XCTest

/// Charts read back as a user would see them: pixels where the data says, in
/// the palette's colours with antialiased edges; an SVG that parses, one
/// marker per point; a whole PDF document. Nothing is compared
/// byte for byte, so a new Cairo or font version does not break them.
final class ChartTests: XCTestCase {
    /// Three points of three classes on axes from −2 to 2.
    let points = [(x: -1.0, y: -1.0, label: 0), (x: 1.0, y: 1.0, label: 1), (x: 0.5, y: -0.5, label: 2)]

    func scatter(_ points: [(x: Double, y: Double, label: Int)]) -> Figure {
        var chart = Chart(title: "Latent means μ(x), σ ≤ 1", xLabel: "z₀", yLabel: "z₁",
                          series: [.points(points.map { Chart.Point(x: $0.x, y: $0.y, label: $0.label) })])
        chart.xRange = (-2, 2)
        chart.yRange = (-2, 2)
        return Figure(chart)
    }

    func rgb(_ c: Colour) -> [UInt8] { [c.red, c.green, c.blue].map { UInt8(($0 * 255).rounded()) } }

    func testPNGHasEachMarkerWhereTheDataSaysWithAntialiasedEdges() throws {
        let picture = try PNG.decodePicture(scatter(points).render(format: .png, path: "t.png"), path: "t.png")
        XCTAssertEqual(picture.channels, 3)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { let i = 3 * (y * picture.width + x); return Array(picture.pixels[i..<(i + 3)]) }
        // The plot frame: the columns and rows that are black for most of the image's height or width.
        let black: [UInt8] = [0, 0, 0]
        let frameColumns = (0..<picture.width).filter { x in (0..<picture.height).filter { pixel(x, $0) == black }.count > picture.height / 2 }
        let frameRows = (0..<picture.height).filter { y in (0..<picture.width).filter { pixel($0, y) == black }.count > picture.width / 2 }
        let (left, right) = (Double(try XCTUnwrap(frameColumns.first)), Double(try XCTUnwrap(frameColumns.last)))
        let (top, bottom) = (Double(try XCTUnwrap(frameRows.first)), Double(try XCTUnwrap(frameRows.last)))
        XCTAssertGreaterThan(right - left, 300)
        XCTAssertGreaterThan(bottom - top, 300)
        for point in points {
            let colour = rgb(Chart.palette[point.label])
            // Pixels of exactly the class's colour inside the frame (the legend is outside it).
            var found: [(Double, Double)] = []
            for y in Int(top) + 1..<Int(bottom) { for x in Int(left) + 1..<Int(right) where pixel(x, y) == colour {
                found.append((Double(x) + 0.5, Double(y) + 0.5))
            } }
            XCTAssertFalse(found.isEmpty, "class \(point.label)'s colour is in the plot")
            let centre = (found.map(\.0).reduce(0, +) / Double(found.count), found.map(\.1).reduce(0, +) / Double(found.count))
            let expected = (left + 0.5 + (point.x + 2) / 4 * (right - left), bottom + 0.5 - (point.y + 2) / 4 * (bottom - top))
            XCTAssertEqual(centre.0, expected.0, accuracy: 1.5, "class \(point.label) x")
            XCTAssertEqual(centre.1, expected.1, accuracy: 1.5, "class \(point.label) y")
            // Antialiasing: around the disc, levels between the colour and the white background.
            let (cx, cy) = (Int(centre.0), Int(centre.1))
            let ring = (cy - 5...cy + 5).flatMap { y in (cx - 5...cx + 5).map { pixel($0, y) } }
            let between = ring.filter { p in p != colour && p != [255, 255, 255] && zip(p, colour).allSatisfy { $0 >= $1 } }
            XCTAssertGreaterThan(between.count, 4, "class \(point.label)'s edge has intermediate levels")
        }
    }

    func testSVGParsesWithOneMarkerPerPoint() throws {
        let many = (0..<37).map { (i: Int) -> (x: Double, y: Double, label: Int) in
            (x: Double(i % 7) / 4 - 0.75, y: Double(i / 7) / 4 - 0.75, label: i % 3)
        }
        let bytes = try scatter(many).render(format: .svg, path: "t.svg")
        let counter = FillCounter(colours: Chart.palette.prefix(3).map { rgb($0) })
        let parser = XMLParser(data: Data(bytes))
        parser.delegate = counter
        XCTAssertTrue(parser.parse(), "the SVG is well-formed XML: \(String(describing: parser.parserError))")
        XCTAssertEqual(counter.root, "svg")
        // One disc per point, and one per class in the legend.
        XCTAssertEqual(counter.filled, many.count + 3)
    }

    /// A whole PDF document (pdftotext reading its text is an end-to-end test: ChartCommandTests).
    func testPDFIsAWholeDocument() throws {
        let run = RunHistory(name: "run", epochs: (1...4).map { ["epoch": Double($0), "train_loss": 200 / Double($0),
                                                                 "test_nelbo": 190 / Double($0), "train_kl": 5, "test_kl": 6] })
        let bytes = try Figures.trainingCurves([run]).render(format: .pdf, path: "t.pdf")
        XCTAssertEqual(Array(bytes.prefix(5)), Array("%PDF-".utf8))
        XCTAssertTrue(String(decoding: bytes.suffix(8), as: UTF8.self).contains("%%EOF"))
    }

    func testFormatsByExtensionAndErrors() throws {
        XCTAssertEqual(try FigureFormat(path: "a/b.PDF"), .pdf)
        XCTAssertEqual(try FigureFormat(path: "x.svg"), .svg)
        XCTAssertThrowsError(try FigureFormat(path: "x.jpg")) { error in
            XCTAssertEqual((error as? FileError)?.path, "x.jpg")
        }
        // An unwritable place: an error naming the file, and nothing left behind.
        let folder = NSTemporaryDirectory() + "vae-missing-\(UUID().uuidString)"
        XCTAssertThrowsError(try scatter(points).write(to: folder + "/chart.png")) { error in
            XCTAssertTrue("\(error)".contains("chart.png"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder))
    }

    func testBarChartsTakeMissingAndZeroValues() {
        let grouped = Figures.groupedBars(title: "AUROC per held-out class", categories: ["0", "1"],
                                          groups: [(name: "nelbo", values: [0.9, .nan])], xLabel: "digit", yLabel: "AUROC",
                                          yRange: (0, 1), reference: (0.5, "chance"))
        XCTAssertNoThrow(try grouped.render(format: .png, path: "t.png"), "a missing value draws no bar")
        let figure = Figures.latentUse(layers: [(kl: [0.5, 0.0, 2.0], activity: [0.2, 0.001, 1.0], threshold: 0.01)])
        let text = (try? figure.render(format: .svg, path: "t.svg")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        XCTAssertTrue(text.hasPrefix("<?xml"))
    }
}

/// Counts SVG elements filled with one of the given colours.
final class FillCounter: NSObject, XMLParserDelegate {
    let colours: [[UInt8]]
    var filled = 0
    var root: String?

    init(colours: [[UInt8]]) { self.colours = colours }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root == nil { root = name }
        guard name == "path", let style = attributes["style"], let range = style.range(of: "fill:rgb(") else { return }
        let inside = style[range.upperBound...].prefix { $0 != ")" }
        let components = inside.split(separator: ",").map { UInt8(max(0, min(255, ((Double($0.dropLast()) ?? 0) * 2.55).rounded()))) }
        if colours.contains(components) { filled += 1 }
    }
}
