/// A zlib failure while reading or writing gzip data.
public struct GzipError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { "gzip: \(message)" }
}
