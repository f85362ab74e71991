// libFuzzer entry point for the parsers of VAEData. Not part of the package:
// `make fuzz` compiles it together with Sources/VAEData (one module, built with
// -sanitize=fuzzer,address) and runs it once per parser, chosen by FUZZ_TARGET.
// A parser may accept or reject an input (with a FileError); a crash, a trap,
// a leak or an out-of-bounds access is a finding.

#if canImport(Glibc)
import Glibc
#endif

private let target: String = {
    guard let raw = getenv("FUZZ_TARGET") else { return "png" }
    return String(cString: raw)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "idx":
        _ = try? IDX.readImages(from: ByteStream(bytes: bytes, name: "fuzz"))
        _ = try? IDX.readLabels(from: ByteStream(bytes: bytes, name: "fuzz"))
    case "png", "pgm":
        _ = try? GrayImage.read(bytes: bytes, path: "fuzz")
        if target == "png" { _ = try? PNG.decodePicture(bytes, path: "fuzz") }
    case "safetensors":
        _ = try? SafeTensors.decode(bytes, path: "fuzz")
    default:
        fputs("FUZZ_TARGET must be idx, png, pgm or safetensors\n", stderr)
        exit(2)
    }
    return 0
}
