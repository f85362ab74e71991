import CZlib

/// The images of a set, each deflated on its own by zlib: a set that is
/// read one image at a time in random order, epoch after epoch, in about a
/// quarter of its memory (MNIST's training images: 11.2 MB for 47 MB; the
/// black background is most of a digit), for one inflate of an image's
/// bytes per read (microseconds, against milliseconds of training per
/// image).
///
/// Raw deflate with a 1 KB window: an image is compressed alone, so no
/// header is worth its bytes, and a window larger than the image buys
/// nothing but memory. One reader at a time (the inflater is reused).
///
/// The preconditions below cannot be reached from a user's files or flags:
/// the bytes inflated are the ones this type deflated from an `ImageSet`
/// already read and checked, the output buffers are deflateBound's size,
/// zlib's init fails only when out of memory, and the indices come from the
/// caller's own permutation of 0..<count.
public final class DeflatedImages {
    public let count: Int
    public let shape: ImageShape
    /// Image i's deflated bytes are deflated[offsets[i] ..< offsets[i + 1]].
    private let deflated: [UInt8]
    private let offsets: [Int]
    private var inflater = z_stream()
    /// The image last inflated.
    private var image: [UInt8]

    static let windowBits: Int32 = -10
    static let level: Int32 = 6

    public init(_ set: ImageSet) {
        let d = set.shape.values
        var deflater = z_stream()
        let status = deflateInit2_(&deflater, Self.level, Z_DEFLATED, Self.windowBits, 8, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "deflateInit2 failed: \(status)")
        defer { deflateEnd(&deflater) }
        var scratch = [UInt8](repeating: 0, count: Int(deflateBound(&deflater, uLong(d))))
        var deflated: [UInt8] = [], offsets = [0]
        offsets.reserveCapacity(set.count + 1)
        set.pixels.withUnsafeBufferPointer { pixels in
            for i in 0..<set.count {
                deflateReset(&deflater)
                let produced = scratch.withUnsafeMutableBufferPointer { out in
                    deflater.next_in = UnsafeMutablePointer(mutating: pixels.baseAddress! + i * d)
                    deflater.avail_in = uInt(d)
                    deflater.next_out = out.baseAddress!
                    deflater.avail_out = uInt(out.count)
                    let result = deflate(&deflater, Z_FINISH)
                    precondition(result == Z_STREAM_END, "deflate did not finish an image: \(result)")
                    return out.count - Int(deflater.avail_out)
                }
                deflated += scratch.prefix(produced)
                offsets.append(deflated.count)
            }
        }
        (self.deflated, self.offsets, count, shape) = (deflated, offsets, set.count, set.shape)
        image = [UInt8](repeating: 0, count: d)
        let inflating = inflateInit2_(&inflater, Self.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(inflating == Z_OK, "inflateInit2 failed: \(inflating)")
    }

    deinit { inflateEnd(&inflater) }

    /// The bytes the images take, deflated (with their offsets).
    public var storedBytes: Int { deflated.count + offsets.count * MemoryLayout<Int>.size }

    /// Image i moved by (dx, dy) pixels, x/255, the uncovered border zero:
    /// what `ImageSet.gather(_:movedBy:into:)` gives for the set's image i.
    public func gather(_ i: Int, movedBy shift: (dx: Int, dy: Int), into out: UnsafeMutablePointer<Float>) {
        precondition((0..<count).contains(i), "image \(i) of \(count)")
        inflateReset(&inflater)
        deflated.withUnsafeBufferPointer { source in
            image.withUnsafeMutableBufferPointer { target in
                inflater.next_in = UnsafeMutablePointer(mutating: source.baseAddress! + offsets[i])
                inflater.avail_in = uInt(offsets[i + 1] - offsets[i])
                inflater.next_out = target.baseAddress!
                inflater.avail_out = uInt(target.count)
                let result = inflate(&inflater, Z_FINISH)
                precondition(result == Z_STREAM_END && inflater.avail_out == 0, "an image did not inflate to its size: \(result)")
                ImageSet.intensities(of: target.baseAddress!, shape: shape, movedBy: shift, into: out)
            }
        }
    }
}
