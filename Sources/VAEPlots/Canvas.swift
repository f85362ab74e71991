import CCairo
import CCairoLoader
import Foundation
import VAEData

/// The file formats a figure is written in, chosen by the path's extension.
public enum FigureFormat: String, CaseIterable {
    case png, svg, pdf

    public init(path: String) throws {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        guard let format = FigureFormat(rawValue: ext) else {
            throw FileError(path, "unknown chart format: use a .png, .svg or .pdf extension")
        }
        self = format
    }

    /// Whether `path` names a chart file by its extension.
    public static func accepts(_ path: String) -> Bool { (try? FigureFormat(path: path)) != nil }
}

/// A colour with components in [0, 1] and an opacity.
public struct Colour: Equatable {
    public let red, green, blue, alpha: Double

    public init(_ red: Double, _ green: Double, _ blue: Double, alpha: Double = 1) {
        self.red = red; self.green = green; self.blue = blue; self.alpha = alpha
    }

    /// From 8-bit components, as palettes are written.
    public init(bytes r: UInt8, _ g: UInt8, _ b: UInt8) { self.init(Double(r) / 255, Double(g) / 255, Double(b) / 255) }

    public func opacity(_ alpha: Double) -> Colour { Colour(red, green, blue, alpha: alpha) }

    public static let black = Colour(0, 0, 0)
    public static let white = Colour(1, 1, 1)
    public static let grey = Colour(bytes: 128, 128, 128)
    public static let gridGrey = Colour(bytes: 225, 225, 225)
}

/// Where a line of text sits relative to the point it is drawn at.
public enum TextAnchor { case left, centre, right }

/// One drawing on a Cairo surface of the chosen format: paths are
/// antialiased, text is set in one font family through fontconfig. The bytes
/// of the file come back from `finish()`, so a figure is written atomically
/// (AtomicFile) or not at all. Sizes are in points; a PNG has one pixel per point.
final class Canvas {
    static let fontFamily = "DejaVu Sans"

    let width: Double, height: Double
    private let format: FigureFormat
    private let surface: OpaquePointer
    private let context: OpaquePointer
    private let sink = ByteSink()
    private let font: Font
    /// Characters drawn that the font has no glyph for (they would come out as boxes).
    private var missingGlyphs = Set<Character>()

    /// The bytes a vector surface streams out as it is drawn and finished.
    private final class ByteSink { var bytes: [UInt8] = [] }

    private static let collect: cairo_write_func_t = { closure, data, length in
        let sink = Unmanaged<ByteSink>.fromOpaque(closure!).takeUnretainedValue()
        sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
        return CAIRO_STATUS_SUCCESS
    }

    /// A blank white canvas; `path` only names the file in errors.
    init(format: FigureFormat, width: Double, height: Double, path: String) throws {
        self.format = format
        self.width = width
        self.height = height
        font = try Font.find(family: Self.fontFamily, path: path)
        let opaque = Unmanaged.passUnretained(sink).toOpaque()
        switch format {
        case .png: surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width.rounded(.up)), Int32(height.rounded(.up)))
        case .svg: surface = cairo_svg_surface_create_for_stream(Self.collect, opaque, width, height)
        case .pdf: surface = cairo_pdf_surface_create_for_stream(Self.collect, opaque, width, height)
        }
        context = cairo_create(surface)
        guard cairo_status(context) == CAIRO_STATUS_SUCCESS else {
            let problem = String(cString: cairo_status_to_string(cairo_status(context)))
            cairo_destroy(context)
            cairo_surface_destroy(surface)
            throw FileError(path, "cannot draw a \(width)x\(height) chart: \(problem)")
        }
        if format == .pdf {
            cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "vae")
        }
        fill(rectangle: (0, 0, width, height), colour: .white)
    }

    deinit {
        cairo_destroy(context)
        cairo_surface_destroy(surface)
    }

    /// Ends the drawing and returns the file's bytes.
    func finish(path: String) throws -> [UInt8] {
        if let glyph = missingGlyphs.sorted().first {
            throw FileError(path, "the font \(font.description) has no glyph for '\(glyph)' (install fonts-dejavu-core)")
        }
        cairo_surface_flush(surface)
        if format == .png {
            let status = cairo_surface_write_to_png_stream(surface, Self.collect, Unmanaged.passUnretained(sink).toOpaque())
            try check(status, path: path)
        } else {
            cairo_surface_finish(surface)
        }
        try check(cairo_surface_status(surface), path: path)
        return sink.bytes
    }

    private func check(_ status: cairo_status_t, path: String) throws {
        guard status == CAIRO_STATUS_SUCCESS else {
            throw FileError(path, "drawing the chart failed: \(String(cString: cairo_status_to_string(status)))")
        }
    }

    // MARK: Paths

    func setColour(_ c: Colour) { cairo_set_source_rgba(context, c.red, c.green, c.blue, c.alpha) }

    /// A polyline, `dash` lengths alternating on and off (empty: solid).
    func stroke(_ points: [(x: Double, y: Double)], colour: Colour, width: Double = 1, dash: [Double] = []) {
        guard let first = points.first else { return }
        cairo_move_to(context, first.x, first.y)
        for p in points.dropFirst() { cairo_line_to(context, p.x, p.y) }
        setColour(colour)
        cairo_set_line_width(context, width)
        cairo_set_line_join(context, CAIRO_LINE_JOIN_ROUND)
        cairo_set_dash(context, dash, Int32(dash.count), 0)
        cairo_stroke(context)
        cairo_set_dash(context, nil, 0, 0)
    }

    func fill(rectangle r: (x: Double, y: Double, width: Double, height: Double), colour: Colour) {
        cairo_rectangle(context, r.x, r.y, r.width, r.height)
        setColour(colour)
        cairo_fill(context)
    }

    /// A filled disc: one path per marker (an SVG holds one element per point).
    func disc(x: Double, y: Double, radius: Double, colour: Colour) {
        cairo_new_sub_path(context)
        cairo_arc(context, x, y, radius, 0, 2 * Double.pi)
        setColour(colour)
        cairo_fill(context)
    }

    /// Restricts drawing to a rectangle until `unclip()`.
    func clip(to r: (x: Double, y: Double, width: Double, height: Double)) {
        cairo_save(context)
        cairo_rectangle(context, r.x, r.y, r.width, r.height)
        cairo_clip(context)
    }

    func unclip() { cairo_restore(context) }

    /// An 8-bit picture (grey or colour) placed at (x, y), each pixel `scale`
    /// points wide, sampled as nearest pixels (an image grid stays sharp).
    func draw(_ picture: Picture, x: Double, y: Double, scale: Double) {
        let stride = Int(cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, Int32(picture.width)))
        let image = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(picture.width), Int32(picture.height))!
        defer { cairo_surface_destroy(image) }
        cairo_surface_flush(image)
        let data = cairo_image_surface_get_data(image)!
        // RGB24: one native-endian 32-bit word a pixel, 0x00RRGGBB.
        for row in 0..<picture.height {
            data.advanced(by: row * stride).withMemoryRebound(to: UInt32.self, capacity: picture.width) { line in
                for column in 0..<picture.width {
                    let i = (row * picture.width + column) * picture.channels
                    let (r, g, b) = picture.channels == 1 ? (picture.pixels[i], picture.pixels[i], picture.pixels[i])
                        : (picture.pixels[i], picture.pixels[i + 1], picture.pixels[i + 2])
                    line[column] = UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
                }
            }
        }
        cairo_surface_mark_dirty(image)
        cairo_save(context)
        cairo_translate(context, x, y)
        cairo_scale(context, scale, scale)
        cairo_set_source_surface(context, image, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(context), CAIRO_FILTER_NEAREST)
        cairo_paint(context)
        cairo_restore(context)
    }

    // MARK: Text

    /// The width of `text` in points at `size`.
    func textWidth(_ text: String, size: Double, bold: Bool = false) -> Double {
        selectFont(size: size, bold: bold)
        var extents = cairo_text_extents_t()
        cairo_text_extents(context, text, &extents)
        return extents.x_advance
    }

    /// One line of text whose baseline's `anchor` point is (x, y), turned
    /// `rotation` radians (−π/2 for a vertical axis name).
    func text(_ text: String, x: Double, y: Double, size: Double, anchor: TextAnchor = .left, bold: Bool = false,
              colour: Colour = .black, rotation: Double = 0) {
        missingGlyphs.formUnion(text.filter { !font.covers($0) })
        let width = textWidth(text, size: size, bold: bold)
        let shift = anchor == .left ? 0 : anchor == .centre ? -width / 2 : -width
        cairo_save(context)
        cairo_translate(context, x, y)
        cairo_rotate(context, rotation)
        cairo_move_to(context, shift, 0)
        setColour(colour)
        cairo_show_text(context, text)
        cairo_restore(context)
    }

    private func selectFont(size: Double, bold: Bool) {
        cairo_select_font_face(context, font.family, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(context, size)
    }
}

/// The font fontconfig gives for a family name (its best match, which may be
/// another family when that one is not installed), with the characters it covers.
struct Font: @unchecked Sendable {
    let family: String
    let file: String
    /// The font's character set, a copy kept for the process's life.
    private let charset: OpaquePointer?

    var description: String { "\(family) (\(file))" }

    func covers(_ c: Character) -> Bool {
        c.isWhitespace || c.unicodeScalars.allSatisfy { scalar in charset.map { FcCharSetHasChar($0, scalar.value) != 0 } ?? true }
    }

    /// Looked up once per process: fontconfig reads its configuration and cache on the first call.
    nonisolated(unsafe) private static var found: [String: Font] = [:]
    private static let lock = NSLock()

    static func find(family: String, path: String) throws -> Font {
        lock.lock()
        defer { lock.unlock() }
        if let font = found[family] { return font }
        // Every chart starts here, so Cairo and fontconfig are loaded before any of their functions is called.
        if let problem = vae_load_cairo() {
            throw FileError(path, "cannot load the chart library: \(String(cString: problem)) (install libcairo2 and libfontconfig1)")
        }
        guard FcInit() != 0 else { throw FileError(path, "fontconfig could not start, so no font can be found for the chart") }
        guard let pattern = FcNameParse(family) else { throw FileError(path, "fontconfig cannot parse the font name \(family)") }
        defer { FcPatternDestroy(pattern) }
        FcConfigSubstitute(nil, pattern, FcMatchPattern)
        FcDefaultSubstitute(pattern)
        var result = FcResultNoMatch
        guard let match = FcFontMatch(nil, pattern, &result), result == FcResultMatch else {
            throw FileError(path, "no font found for the chart: fontconfig knows none (install fonts-dejavu-core)")
        }
        defer { FcPatternDestroy(match) }
        func string(_ key: String) -> String? {
            var value: UnsafeMutablePointer<FcChar8>?
            guard FcPatternGetString(match, key, 0, &value) == FcResultMatch, let value else { return nil }
            return String(cString: value)
        }
        guard let file = string(FC_FILE), FileManager.default.isReadableFile(atPath: file) else {
            throw FileError(path, "no font found for the chart: fontconfig matched no readable font file (install fonts-dejavu-core)")
        }
        var charset: OpaquePointer?
        if FcPatternGetCharSet(match, FC_CHARSET, 0, &charset) != FcResultMatch { charset = nil }
        let font = Font(family: string(FC_FAMILY) ?? family, file: file, charset: charset.flatMap { FcCharSetCopy($0) })
        found[family] = font
        return font
    }
}
