/// Channels × height × width: the images a data set holds and a model takes.
/// One channel is grey, three are RGB. Pixels are stored channel by channel
/// (C planes of H rows of W), as PyTorch lays out an image tensor.
public struct ImageShape: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let channels: Int
    public let height: Int
    public let width: Int

    public init(channels: Int = 1, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// MNIST's digits: 28x28 grey.
    public static let mnist = ImageShape(channels: 1, height: 28, width: 28)

    /// Values per image, C·H·W.
    public var values: Int { channels * height * width }
    public var isColor: Bool { channels == 3 }

    /// The same size with other channels.
    public func with(channels: Int) -> ImageShape { ImageShape(channels: channels, height: height, width: width) }

    /// "28x28 grey", "64x48 colour" (height x width).
    public var description: String { "\(height)x\(width) \(isColor ? "colour" : "grey")" }

    /// Largest images a data set or model may have: beyond them a file or a
    /// checkpoint is taken as hostile, before anything is allocated.
    public static let maximumSide = 4096
    public static let maximumValues = 3 * 1024 * 1024

    /// Why this shape cannot be used, or nil.
    public var problem: String? {
        guard channels == 1 || channels == 3 else { return "images have 1 (grey) or 3 (colour) channels, not \(channels)" }
        guard (1...Self.maximumSide).contains(height), (1...Self.maximumSide).contains(width) else {
            return "an image of \(height)x\(width) is outside 1...\(Self.maximumSide) pixels a side"
        }
        guard values <= Self.maximumValues else { return "an image of \(self) holds more than \(Self.maximumValues) values" }
        return nil
    }

    /// "HxW" (as `--image-size` takes it): height and width, or nil.
    public static func parseSize(_ text: String) -> (height: Int, width: Int)? {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let h = parts[0], let w = parts[1], (1...maximumSide).contains(h), (1...maximumSide).contains(w) else {
            return nil
        }
        return (h, w)
    }
}
