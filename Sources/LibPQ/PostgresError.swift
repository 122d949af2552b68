/// An error reported by libpq or the server, with the SQLSTATE when the server gave one.
///
/// `isTransient` says whether retrying the same work later can succeed (connection lost,
/// serialization failure, server shutting down, out of resources) — it drives the sink's retries.
public struct PostgresError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The five-character SQLSTATE, or nil when the failure happened before the server answered.
    public let sqlState: String?
    /// The server's or libpq's message, first line only.
    public let message: String
    /// What was being done: "connect", "exec", "copy", …
    public let operation: String
    /// The table the server named in the error (PG_DIAG_TABLE_NAME), if any.
    public let table: String?
    /// The constraint the server named (PG_DIAG_CONSTRAINT_NAME), if any.
    public let constraint: String?

    public init(sqlState: String?, message: String, operation: String, table: String? = nil, constraint: String? = nil) {
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
    /// (syntax, constraint, permission, missing table…).
    public var isTransient: Bool {
        guard let state = sqlState else { return true } // no SQLSTATE: connection-level failure
        return Self.isTransient(sqlState: state)
    }

    /// Classifies an SQLSTATE: class 08 connection exception (but 08004, the server or the TLS
    /// setup rejecting the connection), 40 transaction rollback (serialization failure,
    /// deadlock), 53 insufficient resources, 57P01-57P03 admin/crash shutdown and
    /// cannot-connect-now, 58 system error, and 55P03 lock not available.
    public static func isTransient(sqlState state: String) -> Bool {
        let sqlClass = state.prefix(2)
        switch sqlClass {
        case "08": return state != "08004"
        case "40", "53", "58": return true
        case "57": return state == "57P01" || state == "57P02" || state == "57P03" || state == "57014"
        case "55": return state == "55P03"
        default: return false
        }
    }

    public var description: String {
        if let sqlState { return "\(operation) failed: SQLSTATE \(sqlState): \(message)" }
        return "\(operation) failed: \(message)"
    }
}
