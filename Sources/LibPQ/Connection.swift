import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// One PostgreSQL connection; owns its `PGconn*` and closes it in `deinit`.
///
/// Calls block the calling thread: run them on a dedicated thread, never on Swift's
/// cooperative pool. Not thread-safe; one owner at a time.
public final class Connection {
    private let handle: OpaquePointer

    /// Opens a connection from a libpq URI (`postgresql://…`) or `key=value` string; every libpq
    /// option (`sslmode`, `connect_timeout`, `application_name`, …) in it is honoured by libpq.
    public init(conninfo: String) throws(PostgresError) {
        guard let conn = PQconnectdb(conninfo) else {
            throw PostgresError(sqlState: nil, message: "out of memory", operation: "connect")
        }
        if PQstatus(conn) != CONNECTION_OK {
            let message = Self.firstLine(PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(sqlState: "08001", message: message, operation: "connect")
        }
        handle = conn
    }

    deinit { PQfinish(handle) }

    /// True while the connection is usable.
    public var isOpen: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server's `server_version_num`, e.g. 150018.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Runs SQL text with no parameters (may hold several statements).
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> QueryResult {
        try check(PQexec(handle, sql), operation: "exec")
    }

    /// Runs one statement with text parameters passed separately from the SQL (`$1`, `$2`, …);
    /// nil is SQL NULL. Values are never spliced into the SQL text.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?]) throws(PostgresError) -> QueryResult {
        let result = withCStrings(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try check(result, operation: "exec")
    }

    func check(_ result: OpaquePointer?, operation: String) throws(PostgresError) -> QueryResult {
        guard let result else {
            throw PostgresError(sqlState: nil, message: Self.firstLine(PQerrorMessage(handle)), operation: operation)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_EMPTY_QUERY:
            return QueryResult(owning: result)
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = Self.firstLine(PQresultErrorMessage(result))
            PQclear(result)
            throw PostgresError(sqlState: state, message: message, operation: operation)
        }
    }

    static func firstLine(_ cString: UnsafePointer<CChar>?) -> String {
        guard let cString else { return "unknown error" }
        let text = String(cString: cString)
        let line = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? text
        return line.isEmpty ? "unknown error" : line
    }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings` (nil stays NULL).
func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
