/// Products whose result has only a few columns: the weight gradient of a
/// one-channel convolution layer, (C, T) = (32, 9) summed over the batch's
/// 25,088 pixels. sgemm splits its work over the result, not over the long
/// inner dimension, and ran this shape at 33 GFLOP/s (80 when paired with
/// another product) against ~190 for the other layers. Here each image's
/// terms are summed eight pixels at a time, the images split between the
/// threads, and the operands read where they lie: the layer needs no
/// channel-major copy of them.
///
/// The operands, for every image b of a batch:
/// - planes_b (C, P): row b of `planes`, C planes of P pixels each;
/// - taps_b (T, P): at `taps + b·imageStride`, rows `tapStride` apart: the
///   batch's im2col columns, images side by side (imageStride P, tapStride
///   B·P), or image after image (imageStride T·P, tapStride P).
///
/// Each result is computed the same way whatever the batch split, so results
/// do not depend on the thread count.
///
/// Tried and dropped: the layers' other two products in the same form
/// (planes = W × taps, taps = Wᵀ × planes). Without AVX in Swift's baseline
/// x86-64 target they ran no faster than sgemm plus the layout copies they
/// saved (training speed unchanged).
public enum NarrowProducts {
    /// Up to this many taps these loops beat sgemm (measured at 9; sgemm's
    /// efficiency grows with the result's width).
    public static let maximumTaps = 16

    /// gradient (C, T) += Σ_b planes_b × taps_bᵀ over all rows of `planes`;
    /// `imageStride` nil: P, the images side by side.
    /// Each image's (C, T) terms go to row b of `scratch` (at least B rows of
    /// C·T), split between the threads; then every entry sums its column of
    /// terms in image order. Per plane, four taps at a time: one load of the
    /// plane serves four independent sums.
    public static func accumulateWeightGradient(planes: Matrix, taps: UnsafePointer<Float>, tapStride: Int, imageStride: Int? = nil,
                                                into gradient: Matrix, scratch: Matrix) {
        let channels = gradient.rows, tapCount = gradient.columns, pixels = planes.columns / channels
        let imageStride = imageStride ?? pixels
        precondition(channels * pixels == planes.columns, "planes of \(planes.columns) values do not split into \(channels)")
        precondition(scratch.rows >= planes.rows && scratch.columns == channels * tapCount, "scratch too small")
        precondition(tapStride >= pixels && imageStride >= pixels, "rows of taps shorter than an image's pixels")
        let images = planes.rows, lanes = FloatLanes.scalarCount, whole = pixels / lanes * lanes
        // As sgemm: planes (C, B·P) times tapsᵀ (B·P, T).
        MatrixProductStatistics.note(ProductShape(m: channels, n: tapCount, k: images * pixels, transposeB: true))
        parallelRows(images, workPerRow: planes.columns * tapCount) { batch in
            for b in batch {
                let tapsOfImage = taps + b &* imageStride, image = UnsafePointer(planes.row(b)), terms = scratch.row(b)
                for c in 0..<channels {
                    let plane = image + c &* pixels
                    var k = 0
                    while k + 4 <= tapCount {
                        let t0 = tapsOfImage + k &* tapStride, t1 = t0 + tapStride, t2 = t1 + tapStride, t3 = t2 + tapStride
                        var s0 = FloatLanes(repeating: 0), s1 = s0, s2 = s0, s3 = s0
                        for i in stride(from: 0, to: whole, by: lanes) {
                            let v = FloatLanes(loading: plane + i)
                            s0 += v * FloatLanes(loading: t0 + i)
                            s1 += v * FloatLanes(loading: t1 + i)
                            s2 += v * FloatLanes(loading: t2 + i)
                            s3 += v * FloatLanes(loading: t3 + i)
                        }
                        var sums = (s0.sum(), s1.sum(), s2.sum(), s3.sum())
                        for i in whole..<pixels {
                            sums.0 += plane[i] * t0[i]; sums.1 += plane[i] * t1[i]
                            sums.2 += plane[i] * t2[i]; sums.3 += plane[i] * t3[i]
                        }
                        let out = terms + (c &* tapCount &+ k)
                        out[0] = sums.0; out[1] = sums.1; out[2] = sums.2; out[3] = sums.3
                        k += 4
                    }
                    while k < tapCount {
                        let t = tapsOfImage + k &* tapStride
                        var even = FloatLanes(repeating: 0), odd = even, i = 0
                        while i + 2 * lanes <= whole {
                            even += FloatLanes(loading: plane + i) * FloatLanes(loading: t + i)
                            odd += FloatLanes(loading: plane + i + lanes) * FloatLanes(loading: t + i + lanes)
                            i += 2 * lanes
                        }
                        if i < whole { even += FloatLanes(loading: plane + i) * FloatLanes(loading: t + i) }
                        var sum = (even + odd).sum()
                        for i in whole..<pixels { sum += plane[i] * t[i] }
                        terms[c &* tapCount &+ k] = sum
                        k += 1
                    }
                }
            }
        }
        let entries = channels * tapCount
        parallelRows(entries, workPerRow: images) { range in
            for e in range {
                var total: Float = 0
                for b in 0..<images { total += scratch[b, e] }
                gradient.pointer[e] += total
            }
        }
    }
}
