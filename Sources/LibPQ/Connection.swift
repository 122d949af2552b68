import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// One PostgreSQL connection; owns its `PGconn*` and closes it in `deinit`.
///
/// Calls block the calling thread: run them on a dedicated thread, never on Swift's
/// cooperative pool. Not thread-safe; one owner at a time.
public final class Connection {
    let handle: OpaquePointer

    /// Opens a connection from a libpq URI (`postgresql://…`) or `key=value` string; every libpq
    /// option in it (`sslmode`, `connect_timeout`, `application_name`, `options`, …) is honoured
    /// by libpq itself. `defaults` are used only for keys the string does not set.
    public init(conninfo: String, defaults: [String: String] = [:]) throws(PostgresError) {
        // Keywords are processed in order and the last value wins, so defaults come first and the
        // expanded conninfo (dbname with expand_dbname=1) overrides them.
        let pairs = defaults.sorted { $0.key < $1.key } + [("dbname", conninfo)]
        let conn = withCStrings(pairs.map { Optional($0.0) } + [nil]) { keys in
            withCStrings(pairs.map { Optional($0.1) } + [nil]) { values in
                PQconnectdbParams(keys, values, 1)
            }
        }
        guard let conn else {
            throw PostgresError(sqlState: nil, message: "out of memory", operation: "connect")
        }
        if PQstatus(conn) != CONNECTION_OK {
            let message = Self.firstLine(PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(sqlState: ConnectFailure.sqlState(for: message), message: message, operation: "connect")
        }
        // Server NOTICEs ("relation … already exists, skipping") are not errors; libpq would
        // print them on stderr. Drop them.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        handle = conn
    }

    deinit { PQfinish(handle) }

    /// True while the connection is usable.
    public var isOpen: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server process serving this connection (for `pg_terminate_backend` and logs).
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// True when a transaction is open (or failed and awaiting ROLLBACK).
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

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
            let error = Self.error(from: result, operation: operation)
            PQclear(result)
            throw error
        }
    }

    /// Sends `data` with `COPY … FROM STDIN` (`sql` must be that statement), in pieces of at
    /// most 1 MiB, and waits for the server to confirm. Returns the rows copied.
    @discardableResult
    public func copyIn(_ sql: String, data: UnsafeRawBufferPointer) throws(PostgresError) -> Int {
        _ = try check(PQexec(handle, sql), operation: "copy")
        var offset = 0
        while offset < data.count {
            let piece = min(data.count - offset, 1 << 20)
            let rc = PQputCopyData(handle, data.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(piece))
            if rc != 1 {
                // The server may already have reported why (e.g. a bad row); read it.
                _ = PQputCopyEnd(handle, "client gave up")
                throw drainError(operation: "copy") ?? PostgresError(sqlState: nil, message: Self.firstLine(PQerrorMessage(handle)), operation: "copy")
            }
            offset += piece
        }
        if PQputCopyEnd(handle, nil) != 1 {
            throw PostgresError(sqlState: nil, message: Self.firstLine(PQerrorMessage(handle)), operation: "copy")
        }
        var copied = 0
        var failure: PostgresError?
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                copied = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if failure == nil {
                failure = Self.error(from: result, operation: "copy")
            }
            PQclear(result)
        }
        if let failure { throw failure }
        return copied
    }

    /// `copyIn(_:data:)` for bytes held in an array.
    @discardableResult
    public func copyIn(_ sql: String, bytes: [UInt8]) throws(PostgresError) -> Int {
        let result: Result<Int, PostgresError> = bytes.withUnsafeBytes { raw in
            do throws(PostgresError) { return .success(try copyIn(sql, data: raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Reads remaining results after a failed COPY and returns the first error among them.
    private func drainError(operation: String) -> PostgresError? {
        var failure: PostgresError?
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) != PGRES_COMMAND_OK && failure == nil {
                failure = Self.error(from: result, operation: operation)
            }
            PQclear(result)
        }
        return failure
    }

    static func error(from result: OpaquePointer, operation: String) -> PostgresError {
        func field(_ code: Character) -> String? {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        return PostgresError(sqlState: field("C").map(SQLState.init(rawValue:)), message: field("M") ?? firstLine(PQresultErrorMessage(result)),
                             operation: operation, table: field("t"), constraint: field("n"))
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
