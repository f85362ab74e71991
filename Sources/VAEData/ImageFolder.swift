import Dispatch
import Foundation

/// How image files become images of one shape (`--image-size`, `--crop`,
/// `--channels`), and how a folder without train/ and test/ is split.
public struct ImageLoading: Equatable, Sendable {
    /// Height and width to resize to; nil: the images' own (they must agree).
    public var size: ImageShape?
    public var mode = Resizing.Mode.scale
    /// 1 or 3; nil: 3 when any image has colour, else 1.
    public var channels: Int?
    /// The share of a folder's images held out as its test split, chosen by `seed`.
    public var testFraction = 0.1
    public var seed: UInt64 = 0
    /// Count and skip files that are not readable images instead of stopping.
    public var skipUnreadable = false

    public init() {}

    /// The shape of images `size`·`channels` given what the files hold.
    public func shape(height: Int, width: Int, anyColor: Bool) -> ImageShape {
        ImageShape(channels: channels ?? (anyColor ? 3 : 1), height: size?.height ?? height, width: size?.width ?? width)
    }
}

/// Images in class subfolders (the layout of torchvision's `ImageFolder`):
/// `DIR/<class>/*.png|*.pgm`, classes sorted by name giving labels 0…C−1,
/// images sorted by file name within a class.
public enum ImageFolder {
    /// The image files of each class folder of `directory`, sorted; nil when
    /// it has no subfolders. Hidden files are ignored.
    public static func classFolders(_ directory: String) throws -> [(name: String, files: [String])]? {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
            throw FileError(directory, "no such folder")
        }
        let entries = try visible(directory)
        let classes = entries.filter { isDirectory((directory as NSString).appendingPathComponent($0)) }
        guard !classes.isEmpty else { return nil }
        return try classes.map { name in
            let folder = (directory as NSString).appendingPathComponent(name)
            return (name, try visible(folder).filter { !isDirectory((folder as NSString).appendingPathComponent($0)) }
                .map { (folder as NSString).appendingPathComponent($0) })
        }
    }

    static func visible(_ folder: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw FileError(folder, "cannot list this folder")
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
    }

    static func isImageName(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".png") || lower.hasSuffix(".pgm")
    }

    /// What loading left out: the files that were not readable images.
    public struct Loaded {
        public let set: ImageSet
        public let skipped: [String]
    }

    /// The images of `classes` (in order: labels 0…), as one shape.
    /// `shape` fixes it (a model's, or the training split's); nil: from the
    /// files and `options`. `progress` hears (done, total) now and then.
    public static func load(classes: [(name: String, files: [String])], options: ImageLoading, shape fixed: ImageShape? = nil,
                            progress: ((Int, Int) -> Void)? = nil) throws -> Loaded {
        guard classes.count <= 256 else { throw FileError(classes[256].name, "more than 256 classes") }
        var files: [(path: String, label: Int)] = []
        var skipped: [String] = []
        for (label, folder) in classes.enumerated() {
            for file in folder.files {
                if isImageName(file) { files.append((file, label)) } else if options.skipUnreadable { skipped.append(file) } else {
                    throw FileError(file, "not a .png or .pgm image (use --skip-unreadable to leave such files out)")
                }
            }
        }
        // First the headers: the images' sizes and whether any has colour.
        var headers = [ImageHeader?](repeating: nil, count: files.count)
        var failures = [Error?](repeating: nil, count: files.count)
        headers.withUnsafeMutableBufferPointer { headers in
            failures.withUnsafeMutableBufferPointer { failures in
                parallelChunks(files.count) { range in
                    for i in range {
                        do { headers[i] = try ImageHeader.read(path: files[i].path) } catch { failures[i] = error }
                    }
                }
            }
        }
        if let bad = failures.firstIndex(where: { $0 != nil }), !options.skipUnreadable { throw failures[bad]! }
        let readable = files.indices.filter { headers[$0] != nil }
        guard let first = readable.first.flatMap({ headers[$0] }) else {
            throw FileError(classes.first?.name ?? "", "no readable .png or .pgm images")
        }
        let shape = fixed ?? options.shape(height: first.height, width: first.width,
                                           anyColor: readable.contains { headers[$0]!.isColor })
        if let problem = shape.problem { throw FileError(files[readable[0]].path, problem) }
        if fixed == nil && options.size == nil, let other = readable.first(where: { headers[$0]!.width != first.width || headers[$0]!.height != first.height }) {
            throw FileError(files[other].path, "is \(headers[other]!.height)x\(headers[other]!.width) where \(files[readable[0]].path) is \(first.height)x\(first.width): give --image-size HxW to bring them to one size")
        }
        // Then the pixels, both cores decoding, each image written to its place.
        let d = shape.values
        var pixels = [UInt8](repeating: 0, count: readable.count * d)
        var done = 0
        for batch in stride(from: 0, to: readable.count, by: 2048) {
            let upper = min(batch + 2048, readable.count)
            pixels.withUnsafeMutableBufferPointer { out in
                failures.withUnsafeMutableBufferPointer { failures in
                    let base = out.baseAddress!
                    parallelChunks(upper - batch) { range in
                        for k in range {
                            let n = batch + k, file = files[readable[n]].path
                            do {
                                let planes = try Resizing.planes(try Picture.read(path: file), to: shape, mode: options.mode, path: file)
                                for j in 0..<d { base[n * d + j] = Picture.level(planes[j]) }
                            } catch { failures[readable[n]] = error }
                        }
                    }
                }
            }
            done = upper
            progress?(done, readable.count)
        }
        let decoded = readable.filter { failures[$0] == nil }
        if decoded.count < readable.count {
            if !options.skipUnreadable { throw failures[readable.first { failures[$0] != nil }!]! }
            // Close the gaps the failed images left.
            let kept = readable.enumerated().filter { failures[$0.element] == nil }.map(\.offset)
            pixels = kept.flatMap { pixels[($0 * d)..<(($0 + 1) * d)] }
        }
        skipped += files.indices.filter { failures[$0] != nil }.map { files[$0].path }
        // Folders named 0, 1, … are numbered classes, like MNIST's digits.
        let names = classes.map(\.name)
        let set = ImageSet(pixels: pixels, count: decoded.count, shape: shape, labels: decoded.map { UInt8(files[$0].label) },
                           classNames: names == names.indices.map(String.init) ? nil : names)
        return Loaded(set: set, skipped: skipped)
    }

    /// Writes `set` as `directory/<class>/<index>.png`, indices zero-padded so
    /// that file names sort in the set's order (the folder reads back the same
    /// images, class by class). Every one of `classCount` classes (default:
    /// the set's) gets a folder, so a part of a data set reads back with the
    /// same labels.
    public static func write(_ set: ImageSet, to directory: String, classCount: Int? = nil) throws {
        let digits = String(max(set.count - 1, 0)).count
        let manager = FileManager.default
        // Every class gets its folder, empty or not, so the classes read back as they were.
        let count = classCount ?? set.classNames?.count ?? Int(set.labels?.max() ?? 0) + 1
        for label in 0..<count {
            let folder = (directory as NSString).appendingPathComponent(set.className(label))
            do { try manager.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw FileError(folder, "could not create this folder")
            }
        }
        var failures = [Error?](repeating: nil, count: set.count)
        failures.withUnsafeMutableBufferPointer { failures in
            parallelChunks(set.count) { range in
                for i in range {
                    let name = String(repeating: "0", count: digits - String(i).count) + String(i) + ".png"
                    let path = ((directory as NSString).appendingPathComponent(set.className(Int(set.labels?[i] ?? 0))) as NSString)
                        .appendingPathComponent(name)
                    do {
                        try set.picture(i).write(path: path, durable: false)
                    } catch { failures[i] = error }
                }
            }
        }
        if let failure = failures.first(where: { $0 != nil }) { throw failure! }
    }

    /// `body` over 0..<count in contiguous chunks, one per core.
    static func parallelChunks(_ count: Int, _ body: (Range<Int>) -> Void) {
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, count / 16))
        let size = (count + parts - 1) / max(parts, 1)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let lower = part * size
            if lower < count { body(lower..<min(lower + size, count)) }
        }
    }
}

/// An image file's size and colour, from its first bytes.
struct ImageHeader {
    let width: Int
    let height: Int
    let isColor: Bool

    static func read(path: String) throws -> ImageHeader {
        guard let file = fopen(path, "rb") else { throw FileError(path, String(cString: strerror(errno)).lowercased()) }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = fread(&bytes, 1, bytes.count, file)
        bytes.removeLast(bytes.count - n)
        if bytes.starts(with: [0x89, 0x50, 0x4e, 0x47]) {
            // The signature, then IHDR: length, type, width, height, bit depth, colour type.
            guard bytes.count >= 26, String(decoding: bytes[12..<16], as: UTF8.self) == "IHDR" else {
                throw FileError(path, "invalid PNG: no IHDR chunk first")
            }
            func word(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
            let (width, height) = (word(16), word(20))
            try GrayImage.checkSize(width: width, height: height, path: path, format: "PNG")
            return ImageHeader(width: width, height: height, isColor: bytes[25] & 2 != 0)
        }
        guard bytes.starts(with: [0x50, 0x35]) || bytes.starts(with: [0x50, 0x32]) else {
            throw FileError(path, "not a PNG or PGM image (unrecognised first bytes)")
        }
        var reader = PGM.HeaderReader(bytes: bytes, path: path)
        _ = try reader.token()
        let width = try reader.number(max: GrayImage.maximumSide, what: "width")
        let height = try reader.number(max: GrayImage.maximumSide, what: "height")
        try GrayImage.checkSize(width: width, height: height, path: path, format: "PGM")
        return ImageHeader(width: width, height: height, isColor: false)
    }
}
