/// A zstd failure, with the library's own error name.
public struct ZstdError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { "zstd: \(message)" }
}
