import CZlib

/// A minimal PNG *writer* for test fixtures only: every colour type, bit
/// depth and Adam7 interlacing, which libpng's simplified write API cannot
/// all produce. (Reading always goes through libpng.) Filter 0 on every row.
enum PNGFixture {
    enum ColorType: UInt8 { case grey = 0, rgb = 2, palette = 3, greyAlpha = 4, rgba = 6 }

    static func channels(_ c: ColorType) -> Int {
        switch c { case .grey, .palette: 1; case .greyAlpha: 2; case .rgb: 3; case .rgba: 4 }
    }

    /// `sample(x, y)` gives the pixel's channel values at `bitDepth`.
    static func encode(width: Int, height: Int, color: ColorType, bitDepth: Int, interlaced: Bool = false,
                       palette: [(UInt8, UInt8, UInt8)] = [], sample: (Int, Int) -> [Int]) -> [UInt8] {
        let passes: [(x: Int, y: Int, dx: Int, dy: Int)] = interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        var raw: [UInt8] = []
        for pass in passes {
            let xs = Array(stride(from: pass.x, to: width, by: pass.dx))
            let ys = Array(stride(from: pass.y, to: height, by: pass.dy))
            guard !xs.isEmpty, !ys.isEmpty else { continue }
            for y in ys {
                raw.append(0)   // filter: none
                var bits: [Int] = []   // (value, width) pairs flattened as individual bits for depths < 8
                for x in xs {
                    for v in sample(x, y) {
                        switch bitDepth {
                        case 16: raw += [UInt8(v >> 8), UInt8(v & 0xff)]
                        case 8: raw.append(UInt8(v))
                        default: for b in (0..<bitDepth).reversed() { bits.append((v >> b) & 1) }
                        }
                    }
                }
                if bitDepth < 8 {
                    while bits.count % 8 != 0 { bits.append(0) }
                    for i in stride(from: 0, to: bits.count, by: 8) {
                        raw.append(UInt8(bits[i..<(i + 8)].reduce(0) { $0 << 1 | $1 }))
                    }
                }
            }
        }
        var out: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
        out += chunk("IHDR", be32(width) + be32(height) + [UInt8(bitDepth), color.rawValue, 0, 0, interlaced ? 1 : 0])
        if color == .palette { out += chunk("PLTE", palette.flatMap { [$0.0, $0.1, $0.2] }) }
        out += chunk("IDAT", deflate(raw))
        out += chunk("IEND", [])
        return out
    }

    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        return be32(data.count) + body + be32(Int(crc))
    }

    static func deflate(_ data: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&out, &size, data, uLong(data.count), 6)
        precondition(status == Z_OK)
        return Array(out.prefix(Int(size)))
    }
}
