/// Something asked of the library that cannot be done as asked (a flag that
/// contradicts a checkpoint, a calibration set a model cannot score), said in
/// one line that names what to change.
public struct RequestError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
