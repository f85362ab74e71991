import Foundation
import VAEData
import XCTest

final class SafeTensorsTests: FileTestCase {
    let sample = SafeTensorsFile(
        tensors: [
            NamedTensor(name: "encoder.0.weight", shape: [2, 3], values: [1.5, -0, .leastNonzeroMagnitude, -2, .greatestFiniteMagnitude, 1e-20]),
            NamedTensor(name: "encoder.0.bias", shape: [2], values: [0.25, -7]),
            NamedTensor(name: "empty", shape: [0, 4], values: []),
        ],
        metadata: ["arch": "mlp", "quote": "a \"b\" \\ c"])

    func testRoundTripIsBitExact() throws {
        let p = path("m.safetensors")
        try SafeTensors.write(sample, to: p)
        let back = try SafeTensors.read(path: p)
        XCTAssertEqual(back.metadata, sample.metadata)
        for t in sample.tensors {
            let r = try XCTUnwrap(back.tensor(t.name))
            XCTAssertEqual(r.shape, t.shape)
            XCTAssertEqual(r.values.map(\.bitPattern), t.values.map(\.bitPattern), t.name)
        }
    }

    /// The reader gives each tensor's shape and reads its values into the
    /// caller's memory, bit for bit as `read`; a name the file lacks is an error.
    func testReaderReadsEachTensorIntoTheCallersMemory() throws {
        let p = path("r.safetensors")
        try SafeTensors.write(sample, to: p)
        let reader = try SafeTensors.Reader(path: p)
        XCTAssertEqual(reader.metadata, sample.metadata)
        XCTAssertEqual(Set(reader.names), Set(sample.tensors.map(\.name)))
        for t in sample.tensors {
            XCTAssertEqual(reader.shape(of: t.name), t.shape)
            var values = [Float](repeating: .nan, count: t.values.count + 1)
            try values.withUnsafeMutableBufferPointer { try reader.read(t.name, into: $0.baseAddress!, count: t.values.count) }
            XCTAssertEqual(values.dropLast().map(\.bitPattern), t.values.map(\.bitPattern), t.name)
            XCTAssertTrue(values.last!.isNaN, "\(t.name): nothing written past its values")
        }
        XCTAssertNil(reader.shape(of: "decoder.0.weight"))
        var one: Float = 0
        XCTAssertThrowsError(try reader.read("decoder.0.weight", into: &one, count: 1)) { error in
            XCTAssertTrue("\(error)".contains("decoder.0.weight"), "\(error)")
        }
    }

    /// Tensors streamed from where they lie give the same bytes as the whole
    /// file encoded in memory; a failed write leaves nothing behind.
    func testStreamedWriteMatchesTheEncoding() throws {
        let p = path("streamed.safetensors")
        let storage = sample.tensors.map { t in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: t.values.count)
            _ = buffer.initialize(from: t.values)
            return buffer
        }
        defer { storage.forEach { $0.deallocate() } }
        let views = zip(sample.tensors, storage).map { TensorView(name: $0.name, shape: $0.shape, values: UnsafeBufferPointer($1)) }
        try SafeTensors.write(views, metadata: sample.metadata, to: p)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: p))), try SafeTensors.encode(sample))
        let folder = path("gone")
        XCTAssertThrowsError(try SafeTensors.write(views, metadata: [:], to: folder + "/m.safetensors"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder))
    }

    /// Reads the layout independently of the decoder, as the spec describes it.
    func testFileFollowsTheSpec() throws {
        let bytes = try SafeTensors.encode(sample)
        let n = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + n) % 8, 0, "data starts 8-byte aligned")
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        XCTAssertEqual(header["__metadata__"] as? [String: String], sample.metadata)
        var spans: [(Int, Int)] = []
        for t in sample.tensors {
            let entry = try XCTUnwrap(header[t.name] as? [String: Any])
            XCTAssertEqual(entry["dtype"] as? String, "F32")
            XCTAssertEqual(entry["shape"] as? [Int], t.shape)
            let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
            XCTAssertEqual(offsets[1] - offsets[0], 4 * t.values.count)
            spans.append((offsets[0], offsets[1]))
            // Little-endian Float32 at those offsets.
            for (i, v) in t.values.enumerated() {
                let at = 8 + n + offsets[0] + 4 * i
                let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
                XCTAssertEqual(bits, v.bitPattern)
            }
        }
        spans.sort { $0 < $1 }
        var end = 0
        for (b, e) in spans { XCTAssertEqual(b, end, "no gap, no overlap"); end = e }
        XCTAssertEqual(end, bytes.count - 8 - n, "the tensors cover the data exactly")
    }

    /// Builds a file from a hand-written header and data length.
    func file(header: String, dataBytes: Int, headerLength: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        let n = headerLength ?? UInt64(json.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + json + [UInt8](repeating: 0, count: dataBytes)
    }

    func rejects(_ bytes: [UInt8], _ fragment: String, line: UInt = #line) {
        let p = path("bad.safetensors")
        try? FileManager.default.removeItem(atPath: p)
        guard let written = try? write(bytes, "bad.safetensors") else { return XCTFail("could not write", line: line) }
        assertFileError(written, fragment, { try SafeTensors.read(path: written) }, line: line)
    }

    func testRejectsCorruptFiles() {
        rejects([1, 2, 3], "shorter than the 8-byte header length")
        rejects(file(header: "{}", dataBytes: 0, headerLength: 1 << 40), "header length 1099511627776 is larger than the file")
        rejects(file(header: "[1, 2]", dataBytes: 0), "not a JSON object")
        rejects(file(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", dataBytes: 4),
                "data_offsets are not [begin, end] within the 4 data bytes")
        rejects(file(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", dataBytes: 8),
                "shape [3] needs 12 bytes, data_offsets span 8")
        rejects(file(header: "{\"a\": {\"dtype\": \"F16\", \"shape\": [4], \"data_offsets\": [0, 8]}}", dataBytes: 8),
                "dtype F16, expected F32")
        rejects(file(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", dataBytes: 8),
                "overlaps")
        rejects(file(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", dataBytes: 8), "gap before tensor a")
        rejects(file(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", dataBytes: 8),
                "tensors cover 4 data bytes but the file has 8")
        rejects(file(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 0]}}", dataBytes: 0),
                "larger than the file")
        rejects(file(header: "{\"__metadata__\": {\"k\": 3}}", dataBytes: 0), "value of k is not a string")
    }

    func testTruncatedRealCheckpointIsRejected() throws {
        let bytes = try SafeTensors.encode(sample)
        rejects(Array(bytes.dropLast(3)), "data_offsets")
    }
}
