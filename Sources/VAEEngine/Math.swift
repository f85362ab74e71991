// The C math library (exp, log, log1p, tanh, …) for every target that uses
// the engine, on Linux and on Apple systems alike.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Darwin)
@_exported import Darwin
#endif

/// Sum of `count` floats in Double, so long reductions (losses over a batch of
/// 784-pixel images) do not lose precision.
@inline(__always)
public func doubleSum(_ p: UnsafePointer<Float>, count: Int) -> Double {
    var s = 0.0
    for i in 0..<count { s += Double(p[i]) }
    return s
}
