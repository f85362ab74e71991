import Foundation
import VAEData
import VAEModels
import VAEInference
import VAETraining
import XCTest

/// An MNIST test digit saved the ways people save pictures must encode close
/// to where the digit itself encodes.
final class PreprocessingTests: XCTestCase {
    static let data = Fixtures.mnist
    /// A small model trained once for this suite (2,000 images, 4 epochs).
    static let model: any VariationalModel = {
        let train = try! MNIST.load(directory: data, split: .train).subset(0..<2000)
        let model = GaussianVAE(configuration: ModelConfiguration(hidden: [128], latent: 8))
        model.initialize(seed: 1)
        var settings = TrainingSettings()
        settings.learningRate = 3e-3
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters, learningRate: 3e-3),
                              settings: settings, train: train, test: nil)
        for _ in 0..<4 { _ = try! trainer.trainEpoch() }
        return model
    }()

    var folder = ""
    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vae-pre-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func distance(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
    }

    func testSavedVariantsEncodeNearTheOriginal() throws {
        let inputs = ImageInputs(raw: false, dataDirectory: { Self.data })
        let test = try inputs.load("test:0-199")
        let model = Self.model
        let mus = model.encodings(test.map(\.pixels)).map(\.point)
        // Typical distance between encodings of different digits.
        var between = 0.0, pairs = 0
        for i in 0..<100 { for j in (i + 1)..<100 where test[i].label != test[j].label {
            between += distance(mus[i], mus[j]); pairs += 1
        } }
        between /= Double(pairs)

        var ratios: [String: Double] = [:]
        for index in [0, 1, 2, 3, 4] {   // digits 7, 2, 1, 0, 4
            let g = test[index].pixels.map { Int(($0 * 255).rounded()) }   // white ink on black, 28x28
            func ink(_ x: Int, _ y: Int, scale: Int) -> Int { g[(y / scale) * 28 + x / scale] }
            var files: [String: [UInt8]] = [:]
            files["rgb-280-black-on-white.png"] = PNGFixture.encode(width: 280, height: 280, color: .rgb, bitDepth: 8) { x, y in
                let v = 255 - ink(x, y, scale: 10); return [v, v, v]
            }
            files["rgba-transparent.png"] = PNGFixture.encode(width: 56, height: 56, color: .rgba, bitDepth: 8) { x, y in
                [0, 0, 0, ink(x, y, scale: 2)]   // black ink, background fully transparent
            }
            files["rgba-16bit-transparent.png"] = PNGFixture.encode(width: 28, height: 28, color: .rgba, bitDepth: 16) { x, y in
                [65535, 65535, 65535, ink(x, y, scale: 1) * 257]   // white ink on a transparent canvas
            }
            files["grey-1bit.png"] = PNGFixture.encode(width: 56, height: 56, color: .grey, bitDepth: 1) { x, y in
                [ink(x, y, scale: 2) > 127 ? 0 : 1]   // black on white, thresholded
            }
            files["grey-16bit.png"] = PNGFixture.encode(width: 84, height: 84, color: .grey, bitDepth: 16) { x, y in
                [ink(x, y, scale: 3) * 257]
            }
            files["interlaced.png"] = PNGFixture.encode(width: 112, height: 112, color: .grey, bitDepth: 8, interlaced: true) { x, y in
                [255 - ink(x, y, scale: 4)]
            }
            let greys: [(UInt8, UInt8, UInt8)] = (0..<16).map { (i: Int) -> (UInt8, UInt8, UInt8) in
                let level = UInt8(i * 17)
                return (level, level, level)
            }
            files["palette-4bit.png"] = PNGFixture.encode(width: 56, height: 56, color: .palette, bitDepth: 4,
                                                         palette: greys) { x, y in [ink(x, y, scale: 2) / 17] }
            let big = (0..<(140 * 140)).map { 255 - ink($0 % 140, $0 / 140, scale: 5) }
            files["p5.pgm"] = Array("P5\n140 140\n255\n".utf8) + big.map(UInt8.init)
            files["p2.pgm"] = Array(("P2\n140 140\n255\n" + big.map(String.init).joined(separator: " ") + "\n").utf8)
            for (name, bytes) in files {
                let path = folder + "/\(index)-" + name
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                let loaded = try inputs.load(path)[0]
                XCTAssertEqual(loaded.pixels.count, 784)
                let ratio = distance(model.encodings([loaded.pixels])[0].point, mus[index]) / between
                ratios[name] = max(ratios[name] ?? 0, ratio)
            }
        }
        print("preprocessing: worst distance to the original's μ over 5 digits, as a fraction of the mean distance between different digits:")
        for (name, r) in ratios.sorted(by: { $0.key < $1.key }) { print(String(format: "  %-28@ %.3f", name as NSString, r)) }
        for (name, r) in ratios { XCTAssertLessThan(r, 0.5, name) }
    }

    func testPreprocessingCentresAndScalesTheInk() throws {
        // A 5x3 bright bar far in a corner of a 100x60 dark image.
        var pixels = [UInt8](repeating: 0, count: 100 * 60)
        for y in 2..<5 { for x in 90..<95 { pixels[y * 100 + x] = 255 } }
        let out = try DigitPreprocessing.prepare(GrayImage(width: 100, height: 60, pixels: pixels), path: "bar")
        var (mass, mx, my) = (0.0, 0.0, 0.0)
        var columns = Set<Int>()
        for y in 0..<28 { for x in 0..<28 where out[y * 28 + x] > 0 {
            let m = Double(out[y * 28 + x])
            mass += m; mx += m * Double(x); my += m * Double(y)
            columns.insert(x)
        } }
        XCTAssertEqual(mx / mass, 14, accuracy: 0.5)
        XCTAssertEqual(my / mass, 14, accuracy: 0.5)
        XCTAssertEqual(columns.count, 20)   // the longer side scaled to 20 px
    }

    func testBlankAndWrongSizedImagesAreRefused() {
        XCTAssertThrowsError(try DigitPreprocessing.prepare(GrayImage(width: 50, height: 50, pixels: [UInt8](repeating: 200, count: 2500)), path: "blank"))
        XCTAssertThrowsError(try DigitPreprocessing.prepare(GrayImage(width: 30, height: 28, pixels: [UInt8](repeating: 0, count: 840)), path: "x", raw: true))
    }
}
