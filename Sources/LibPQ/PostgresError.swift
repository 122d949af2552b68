/// An error reported by libpq or the server, with the SQLSTATE when the server gave one.
///
/// `isTransient` says whether retrying the same work later can succeed (connection lost,
/// serialization failure, server shutting down, out of resources) — it drives the sink's retries.
public struct PostgresError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The SQLSTATE, or nil when the failure happened before the server answered.
    public let sqlState: SQLState?
    /// The server's or libpq's message, first line only.
    public let message: String
    /// What was being done: "connect", "exec", "copy", …
    public let operation: String
    /// The table the server named in the error (PG_DIAG_TABLE_NAME), if any.
    public let table: String?
    /// The constraint the server named (PG_DIAG_CONSTRAINT_NAME), if any.
    public let constraint: String?

    public init(sqlState: SQLState?, message: String, operation: String, table: String? = nil, constraint: String? = nil) {
        self.sqlState = sqlState
        self.message = message
        self.operation = operation
        self.table = table
        self.constraint = constraint
    }

    /// The same error with `operation` replaced, e.g. by "insert into market_ticks", and `table`
    /// filled in when the server did not name one.
    public func during(_ operation: String, table: String? = nil) -> PostgresError {
        PostgresError(sqlState: sqlState, message: message, operation: operation, table: self.table ?? table, constraint: constraint)
    }

    /// True for failures worth retrying with backoff; false for permanent ones
    /// (syntax, constraint, permission, missing table…). No SQLSTATE: a connection-level failure.
    public var isTransient: Bool { sqlState?.isTransient ?? true }

    public var description: String {
        if let sqlState { return "\(operation) failed: SQLSTATE \(sqlState): \(message)" }
        return "\(operation) failed: \(message)"
    }
}
