import LibPQ

/// A permanent database failure: retrying cannot help, so tickd stops with exit code 1.
/// The message names the table and the SQLSTATE.
public struct SinkError: Error, CustomStringConvertible, Sendable {
    /// The table being written (the server's own table name when it gave one).
    public let table: String
    public let underlying: PostgresError

    public init(table: String, underlying: PostgresError) {
        self.table = underlying.table ?? table
        self.underlying = underlying
    }

    public var description: String {
        let code = "SQLSTATE \(underlying.sqlState ?? "none")"
        if underlying.operation == "connect" { return "could not connect to PostgreSQL: \(code): \(underlying.message)" }
        return "\(underlying.operation) failed on table \(table): \(code): \(underlying.message)"
    }
}
