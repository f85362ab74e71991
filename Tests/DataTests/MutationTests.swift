import Foundation
import VAEData
import XCTest

/// Every parser, fed thousands of mutated valid files (truncations, bit flips,
/// bytes set to extremes, length fields set to extremes), must parse or throw
/// a `FileError` — never trap, hang or allocate what a header claims.
final class MutationTests: XCTestCase {
    /// A deterministic mutator (its own LCG, so the cases never change).
    struct Mutator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(max(bound, 1)))
        }

        /// One of several kinds of damage; `lengthFields` are byte offsets of
        /// size fields that are set to extreme values.
        mutating func mutate(_ valid: [UInt8], lengthFields: [Int]) -> [UInt8] {
            var b = valid
            switch next(6) {
            case 0: b = Array(b.prefix(next(b.count)))                          // truncate
            case 1: for _ in 0...next(4) { let i = next(b.count); b[i] ^= UInt8(1 << next(8)) }   // bit flips
            case 2: for _ in 0...next(3) { b[next(b.count)] = [0x00, 0xff, 0x7f, 0x80][next(4)] }
            case 3:                                                              // a length field to an extreme
                if !lengthFields.isEmpty, case let at = lengthFields[next(lengthFields.count)], at + 4 <= b.count {
                    let value: [UInt8] = [[0xff, 0xff, 0xff, 0xff], [0, 0, 0, 0], [0x7f, 0xff, 0xff, 0xff], [0, 0, 0, 1]][next(4)]
                    b.replaceSubrange(at..<(at + 4), with: value)
                }
            case 4: b += (0..<next(64)).map { _ in UInt8(next(256)) }           // trailing junk
            default:                                                             // a chunk repeated
                let from = next(b.count), length = min(next(32), b.count - from)
                b.insert(contentsOf: b[from..<(from + length)], at: next(b.count))
            }
            return b
        }
    }

    /// Runs `parse` on `count` mutants; returns how many parsed.
    func fuzz(_ name: String, valid: [UInt8], lengthFields: [Int] = [], count: Int = 1500,
              parse: ([UInt8]) throws -> Void) -> Int {
        var mutator = Mutator(state: UInt64(name.utf8.reduce(7) { $0 &* 31 &+ Int($1) }))
        var parsed = 0
        for _ in 0..<count {
            do {
                try parse(mutator.mutate(valid, lengthFields: lengthFields))
                parsed += 1
            } catch is FileError {
            } catch {
                XCTFail("\(name): an error that is not a FileError: \(error)")
            }
        }
        print("\(name): \(count) mutants, \(parsed) parsed, \(count - parsed) rejected with an error")
        return parsed
    }

    let imagesIDX = IDX.encode(dimensions: [3, 28, 28], payload: (0..<(3 * 784)).map { UInt8($0 % 251) })

    func testIDXPlainAndGzip() {
        _ = fuzz("IDX images", valid: imagesIDX, lengthFields: [0, 4, 8, 12]) {
            _ = try IDX.readImages(from: ByteStream(bytes: $0, name: "mutant"))
        }
        _ = fuzz("IDX images, gzip", valid: Gzip.compress(imagesIDX), lengthFields: [4, 10, 20]) {
            _ = try IDX.readImages(from: ByteStream(bytes: $0, name: "mutant.gz"))
        }
        _ = fuzz("IDX labels", valid: IDX.encode(dimensions: [20], payload: (0..<20).map { UInt8($0 % 10) }), lengthFields: [0, 4]) {
            _ = try IDX.readLabels(from: ByteStream(bytes: $0, name: "mutant"))
        }
    }

    func testPNG() throws {
        let image = GrayImage(width: 20, height: 13, pixels: (0..<260).map { UInt8($0 % 256) })
        let png = try PNG.encode(image, path: "valid.png")
        _ = fuzz("PNG", valid: png, lengthFields: [8, 16, 20, 33]) { _ = try PNG.decode($0, path: "mutant.png") }
    }

    func testPGM() {
        let p5 = PGM.encode(GrayImage(width: 9, height: 7, pixels: (0..<63).map { UInt8($0 * 4) }))
        _ = fuzz("PGM P5", valid: p5, lengthFields: [3]) { _ = try GrayImage.read(bytes: $0, path: "mutant.pgm") }
        let p2 = Array("P2\n# comment\n4 3\n65535\n0 1 2 3 4 5 6 7 8 9 10 65535\n".utf8)
        _ = fuzz("PGM P2", valid: p2, lengthFields: [3, 14]) { _ = try GrayImage.read(bytes: $0, path: "mutant.pgm") }
    }

    func testSafeTensors() throws {
        let file = SafeTensorsFile(tensors: [NamedTensor(name: "w", shape: [3, 4], values: (0..<12).map(Float.init)),
                                             NamedTensor(name: "b", shape: [3], values: [1, 2, 3])],
                                   metadata: ["arch": "mlp", "epoch": "3"])
        let valid = try SafeTensors.encode(file)
        _ = fuzz("safetensors", valid: valid, lengthFields: [0, 4, 40, 60, 80]) { _ = try SafeTensors.decode($0, path: "mutant") }
    }
}
