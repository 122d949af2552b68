/// A failure talking to Redis: an I/O or protocol error of hiredis, or an error reply.
public struct RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Where the error came from.
    public enum Kind: Sendable, Equatable {
        /// Connect, read, write or timeout: the connection is unusable; reconnect.
        case io
        /// The server answered with an error reply (`-ERR …`, `-WRONGPASS …`).
        case reply
        /// Bad usage, such as a malformed `redis://` URL.
        case usage
    }
    public let kind: Kind
    public let message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "redis \(kind): \(message)" }
}
