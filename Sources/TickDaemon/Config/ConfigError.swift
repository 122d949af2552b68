/// A configuration mistake: the key path and what to fix, in one line. tickd exits 2 with it.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Dotted key path (`input.csv.delimiter`), or the file or variable at fault.
    public let key: String
    public let message: String

    public init(key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}
