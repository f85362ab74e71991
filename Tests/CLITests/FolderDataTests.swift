import Foundation
import VAEData
import XCTest

/// Your own images: a folder data set of colour 32x32 pictures of shapes, in
/// class subfolders, generated here; a conv model and a conditional mlp
/// trained on it with the built binary, and every command run on each.
final class FolderDataTests: XCTestCase {
    static let shared = NSTemporaryDirectory() + "vae-folder-\(UUID().uuidString)"
    static let classes = ["circle", "square", "triangle"]

    /// A shape of a random colour, size and place on a dark background.
    static func shape(_ kind: Int, seed: Int) -> Picture {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        func random(_ n: Int) -> Int { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return Int(state % UInt64(n)) }
        let color = [UInt8(80 + random(176)), UInt8(80 + random(176)), UInt8(80 + random(176))]
        let r = 6 + random(6), cx = 10 + random(12), cy = 10 + random(12)
        var pixels = [UInt8](repeating: 12, count: 32 * 32 * 3)
        for y in 0..<32 {
            for x in 0..<32 {
                let (dx, dy) = (x - cx, y - cy)
                let inside: Bool
                switch kind {
                case 0: inside = dx * dx + dy * dy <= r * r
                case 1: inside = abs(dx) <= r && abs(dy) <= r
                default: inside = dy <= r && dy >= -r && 2 * abs(dx) <= dy + r
                }
                if inside { for c in 0..<3 { pixels[(y * 32 + x) * 3 + c] = color[c] } }
            }
        }
        return Picture(width: 32, height: 32, channels: 3, pixels: pixels)
    }

    static let prepared: Void = {
        let data = shared + "/shapes"
        for (label, name) in classes.enumerated() {
            let folder = data + "/" + name
            try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for i in 0..<120 { try! shape(label, seed: 1000 * label + i).write(path: "\(folder)/\(i).png") }
        }
        // Files that are not images: an error unless skipped.
        try! Data("notes".utf8).write(to: URL(fileURLWithPath: data + "/circle/README.txt"))
        for (name, extra) in [("conv.safetensors", ["--arch", "conv", "--hidden", "64"]),
                              ("cmlp.safetensors", ["--conditional", "--hidden", "128"]),
                              ("no-triangles.safetensors", ["--exclude-classes", "triangle", "--holdout", "30", "--hidden", "128"])] {
            let run = try! VAEBinary.run(["train", "--data", "shapes", "--skip-unreadable", "--epochs", "6", "--latent", "4",
                                          "--lr", "0.003", "--batch-size", "32", "--threads", "2", "--model", name] + extra, in: shared)
            precondition(run.status == 0, run.stderr)
        }
    }()

    override class func tearDown() { try? FileManager.default.removeItem(atPath: shared) }

    func vae(_ arguments: [String]) throws -> VAERun {
        _ = Self.prepared
        return try VAEBinary.run(arguments, in: Self.shared)
    }

    func succeeds(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> VAERun {
        let run = try vae(arguments)
        XCTAssertEqual(run.status, 0, "\(arguments): \(run.stderr)", file: file, line: line)
        return run
    }

    func picture(_ name: String) throws -> Picture { try Picture.read(path: Self.shared + "/" + name) }

    func testTrainingReadsTheFolderAndRecordsItsClasses() throws {
        let unreadable = try vae(["train", "--data", "shapes", "--epochs", "1", "--model", "x.safetensors"])
        XCTAssertNotEqual(unreadable.status, 0)
        XCTAssert(unreadable.stderr.contains("README.txt: not a .png or .pgm image"), unreadable.stderr)
        let metadata = try SafeTensors.read(path: Self.shared + "/cmlp.safetensors").metadata
        XCTAssertEqual(metadata["class_names"], #"["circle","square","triangle"]"#)
        XCTAssertEqual(metadata["channels"], "3")
        XCTAssertEqual(metadata["height"], "32")
        XCTAssertEqual(metadata["test_fraction"], "0.1")
        XCTAssertEqual(metadata["classes"], "3")
    }

    /// Every command on a colour conv model and a conditional colour mlp.
    func testEveryCommandOnColourModels() throws {
        for model in ["conv.safetensors", "cmlp.safetensors"] {
            let m = ["--model", model, "--data", "shapes", "--skip-unreadable"]
            let label = model == "cmlp.safetensors" ? ["--label", "square"] : []
            _ = try succeeds(["sample", "-n", "9", "-o", "s.png", "--model", model])
            XCTAssertEqual(try picture("s.png").channels, 3)
            let pgm = try vae(["sample", "-o", "s.pgm", "--model", model])
            XCTAssertNotEqual(pgm.status, 0)
            XCTAssert(pgm.stderr.contains("PGM holds grey images, and this model draws colour"), pgm.stderr)
            _ = try succeeds(["reconstruct", "test:0-9", "-o", "r.png", "--corrupt", "noise:0.1"] + m)
            let r = try picture("r.png")
            XCTAssertEqual(r.channels, 3)
            XCTAssertEqual(r.height, 3 * 32 + 4 * 2, "clean, corrupted and reconstructed rows")
            _ = try succeeds(["interpolate", "test:0", "test:5", "--steps", "4", "-o", "i.png"] + m)
            XCTAssertEqual(try picture("i.png").width, 6 * 32 + 7 * 2)
            _ = try succeeds(["arithmetic", "test:0", "test:1", "test:2", "-o", "a.png"] + m)
            _ = try succeeds(["traverse", "--dims", "0,1", "--steps", "3", "-o", "t.png", "--model", model] + label)
            _ = try succeeds(["traverse", "test:4", "--dims", "0,1", "--steps", "3", "-o", "t.png"] + m)
            let encode = try succeeds(["encode", "--split", "test", "-o", "e.csv", "--plot", "e.pdf"] + m)
            XCTAssert(encode.stdout.contains("k = 4"), encode.stdout)
            let legend = try readPDFText(Self.shared + "/e.pdf")
            XCTAssert(Self.classes.allSatisfy(legend.contains), "the legend names the classes: \(legend)")
            _ = try succeeds(["eval", "--iw-samples", "10"] + m)
            // A conditional model calibrates on labelled images (the data set's); any other on a folder of files too.
            let calibration = model == "cmlp.safetensors" ? "test" : "shapes/circle"
            let score = try succeeds(["score", "--split", "test", "--calibrate", calibration, "--json", "score.json"] + m)
            XCTAssert(score.stdout.contains("calibration images"), score.stdout)
            // A file of another size is resized to the model's.
            try Self.shape(1, seed: 7).write(path: Self.shared + "/one.png")
            let big = Picture(width: 64, height: 48, channels: 3, pixels: [UInt8](repeating: 200, count: 64 * 48 * 3))
            try big.write(path: Self.shared + "/big.png")
            _ = try succeeds(["score", "one.png", "big.png"] + m + label)
            try? FileManager.default.removeItem(atPath: Self.shared + "/aug")
            _ = try succeeds(["augment", "--limit", "20", "--per-image", "2", "-o", "aug"] + m)
            for split in ["train", "test"] { XCTAssert(FileManager.default.fileExists(atPath: Self.shared + "/aug/\(split)/circle")) }
            XCTAssertEqual(try picture("aug/train/circle/" + (try FileManager.default.contentsOfDirectory(atPath: Self.shared + "/aug/train/circle").sorted()[0])).channels, 3)
        }
        // The augmented folder (train/ and test/) is a data set in its own right.
        _ = try succeeds(["train", "--data", "aug", "--epochs", "1", "--hidden", "16", "--latent", "2", "--model", "aug.safetensors"])
    }

    /// The conditional model draws the class asked for by name; its legend and errors use the names.
    func testClassesByName() throws {
        _ = try succeeds(["sample", "--class", "triangle", "-n", "4", "-o", "tri.png", "--model", "cmlp.safetensors"])
        _ = try succeeds(["sample", "--class", "2", "-n", "4", "-o", "tri2.png", "--model", "cmlp.safetensors"])
        XCTAssertEqual(try picture("tri.png"), try picture("tri2.png"), "a class by name or by number")
        let unknown = try vae(["sample", "--class", "hexagon", "--model", "cmlp.safetensors"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssert(unknown.stderr.contains("--class hexagon: cmlp.safetensors knows classes circle, square, triangle"), unknown.stderr)
        let grid = try succeeds(["sample", "-o", "classes.png", "--model", "cmlp.safetensors"])
        XCTAssert(grid.stdout.contains("one row per class"), grid.stdout)
        // A data set with a class the conditional model does not know, or its classes renamed: one line, not a trap.
        let root = Self.shared
        try? FileManager.default.removeItem(atPath: root + "/more")
        try? FileManager.default.removeItem(atPath: root + "/renamed")
        for name in Self.classes + ["zebra"] {
            try FileManager.default.copyItem(atPath: "\(root)/shapes/\(name == "zebra" ? "circle" : name)", toPath: "\(root)/more/\(name)")
        }
        for (from, to) in zip(Self.classes, ["disc", "square", "triangle"]) {
            try FileManager.default.copyItem(atPath: "\(root)/shapes/\(from)", toPath: "\(root)/renamed/\(to)")
        }
        for (data, problem) in [("more", "has class zebra"), ("renamed", "classes disc, square, triangle, where the model was trained on circle")] {
            for command in [["eval"], ["score", "--split", "test"], ["anomaly"]] {
                let run = try vae(command + ["--data", data, "--skip-unreadable", "--model", "cmlp.safetensors"])
                XCTAssertNotEqual(run.status, 0)
                XCTAssert(run.stderr.contains(problem) && run.stderr.split(separator: "\n").count == 1, "\(command) \(data): \(run.stderr)")
            }
        }
    }

    /// Anomaly detection on folder data: a model that never saw triangles.
    func testAnomalyOnFolderClasses() throws {
        let run = try succeeds(["anomaly", "--data", "shapes", "--skip-unreadable", "--model", "no-triangles.safetensors",
                                "--json", "anomaly.json", "--plot", "anomaly.png"])
        XCTAssert(run.stdout.contains("anomalies: class(es) triangle"), run.stdout)
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shared + "/anomaly.json"))) as! [String: Any]
        XCTAssertEqual(doc["anomaly_classes"] as? [String], ["triangle"])
        // (Triangles cover less of the picture than the shapes it knows, so the ELBO may well find them *more*
        // likely: the known failure of likelihood scores. This checks the protocol, not the score.)
        XCTAssert((0...1).contains(try XCTUnwrap(doc["auroc"] as? Double)))
        XCTAssertEqual(doc["calibration_n"] as? Int, 30, "the held-out tail of normal training images")
        // Every metric on colour images: the complexity term compresses all three channels.
        let all = try succeeds(["anomaly", "--data", "shapes", "--skip-unreadable", "--model", "no-triangles.safetensors",
                                "--metric", "all", "--samples", "5", "--json", "all.json"])
        XCTAssert(all.stdout.contains("complexity"), all.stdout)
        let every = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shared + "/all.json"))) as! [String: Any]
        let metrics = try XCTUnwrap(every["metrics"] as? [[String: Any]])
        XCTAssertEqual(metrics.compactMap { $0["metric"] as? String }, ["nelbo", "recon", "iw", "complexity", "knn"])
        XCTAssert(metrics.allSatisfy { ($0["auroc"] as? Double).map { (0...1).contains($0) } ?? false })
    }
}

/// MNIST written out as PNG class folders (`vae export`) is the same data:
/// the same bytes in give the same bits out.
final class ExportTests: FolderTestCase {
    func testExportedMNISTTrainsToTheSameCheckpointAsItsIDXFiles() throws {
        let export = try VAEBinary.run(["export", "--data", VAEBinary.data, "--limit", "1500", "-o", "png"], in: folder)
        XCTAssertEqual(export.status, 0, export.stderr)
        // A folder reads class by class (as torchvision's ImageFolder does):
        // the IDX twin holds the same images in that order.
        let twin = folder + "/twin"
        try FileManager.default.createDirectory(atPath: twin, withIntermediateDirectories: true)
        for split in MNISTSplit.allCases {
            let set = try MNIST.load(directory: VAEBinary.data, split: split).subset(0..<1500)
            let order = set.labels!.indices.sorted { (set.labels![$0], $0) < (set.labels![$1], $1) }
            let names = MNIST.fileNames(split)
            try IDX.writeGzipped(set.subset(order), imagesPath: "\(twin)/\(names.images).gz", labelsPath: "\(twin)/\(names.labels).gz")
            // Every exported PNG holds its image's bytes exactly.
            let first = order[0], label = Int(set.labels![first])
            let file = "\(folder)/png/\(split.rawValue)/\(label)/" + String(format: "%04d.png", first)
            XCTAssertEqual(try Picture.read(path: file), set.picture(first), file)
        }
        let arguments = ["train", "--epochs", "2", "--hidden", "32", "--latent", "3", "--threads", "2"]
        XCTAssertEqual(try VAEBinary.run(arguments + ["--data", "png", "--model", "png.safetensors"], in: folder).status, 0)
        XCTAssertEqual(try VAEBinary.run(arguments + ["--data", "twin", "--model", "idx.safetensors"], in: folder).status, 0)
        let a = try Data(contentsOf: URL(fileURLWithPath: folder + "/png.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: folder + "/idx.safetensors"))
        XCTAssertEqual(a, b, "the same images in the same order train to the same checkpoint, byte for byte")
        let again = try VAEBinary.run(["export", "--data", VAEBinary.data, "-o", "png"], in: folder)
        XCTAssertNotEqual(again.status, 0)
        XCTAssert(again.stderr.contains("already holds train/"), again.stderr)
    }
}

extension FolderDataTests {
    /// A judge for your own data set: trained on the colour shapes, it reads
    /// their test split by class name, and judges the conditional model's samples.
    func testAJudgeForAFolderDataSet() throws {
        let trained = try succeeds(["judge", "train", "--data", "shapes", "--skip-unreadable", "--epochs", "25", "--lr-decay", "1",
                                  "-o", "shapes-judge.safetensors"])
        XCTAssert(trained.stdout.contains("32x32 colour, 3 classes"), trained.stdout)
        let read = try succeeds(["judge", "read", "--split", "test", "--data", "shapes", "--skip-unreadable",
                                 "--judge", "shapes-judge.safetensors", "--json", "shapes-read.json"])
        XCTAssert(read.stdout.contains("classes circle square triangle"), read.stdout)
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shared + "/shapes-read.json"))) as! [String: Any]
        XCTAssertGreaterThan(doc["accuracy"] as? Double ?? 0, 0.8, "three plain shapes are easy: \(read.stdout)")
        let quality = try succeeds(["eval", "--model", "cmlp.safetensors", "--data", "shapes", "--skip-unreadable",
                                    "--judge", "shapes-judge.safetensors", "--sample-quality", "60"])
        XCTAssert(quality.stdout.contains("read as the class asked for"), quality.stdout)
        XCTAssert(quality.stdout.contains("circle "), quality.stdout)
        // The MNIST judge cannot read colour 32x32 images: one line.
        let mismatch = try vae(["eval", "--model", "cmlp.safetensors", "--data", "shapes", "--skip-unreadable", "--sample-quality", "60"])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssert(mismatch.stderr.contains("the judge reads 28x28 grey images"), mismatch.stderr)
        XCTAssertEqual(mismatch.stderr.split(separator: "\n").count, 1, mismatch.stderr)
        // MNIST for the shapes judge is read at the judge's size and channels, as a model reads it.
        let other = try succeeds(["judge", "read", "--split", "test", "--judge", "shapes-judge.safetensors", "--data", VAEBinary.data])
        XCTAssert(other.stdout.contains("10000 test images"), other.stdout)
    }
}
