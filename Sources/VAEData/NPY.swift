/// NumPy's .npy format, version 1.0: the magic "\x93NUMPY", the version, a
/// little-endian UInt16 header length, a Python dict literal describing dtype,
/// order and shape (padded with spaces and a newline to a multiple of 64
/// bytes), then the data. `numpy.load` reads what this writes.
public enum NPY {
    public static func encode(float32 values: [Float], shape: [Int]) -> [UInt8] {
        var out = header(descr: "<f4", shape: shape, count: values.count)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        return out
    }

    /// Integers (a VQ-VAE's codes) as little-endian int32.
    public static func encode(int32 values: [Int32], shape: [Int]) -> [UInt8] {
        var out = header(descr: "<i4", shape: shape, count: values.count)
        for v in values { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        return out
    }

    /// The magic, version and header of `count` 4-byte values of `descr`, room reserved for them.
    private static func header(descr: String, shape: [Int], count: Int) -> [UInt8] {
        precondition(shape.reduce(1, *) == count)
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let n = UInt16(header.utf8.count)
        out += [UInt8(n & 0xff), UInt8(n >> 8)] + Array(header.utf8)
        out.reserveCapacity(out.count + 4 * count)
        return out
    }
}
