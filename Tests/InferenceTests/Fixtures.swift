import Foundation

/// Where the tests find MNIST: the copy in the repository.
enum Fixtures {
    static let mnist = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Data/mnist").path
}
