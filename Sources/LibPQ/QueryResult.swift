import CLibPQ

/// The rows of one statement; owns its `PGresult*` and frees it in `deinit`.
public final class QueryResult {
    private let handle: OpaquePointer

    init(owning handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    /// Number of rows returned.
    public var rowCount: Int { Int(PQntuples(handle)) }
    /// Number of columns returned.
    public var columnCount: Int { Int(PQnfields(handle)) }
    /// Rows affected by INSERT/UPDATE/DELETE/COPY, 0 when the command reports none.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    /// The text value at (row, column), nil for SQL NULL.
    public func value(row: Int, column: Int) -> String? {
        if PQgetisnull(handle, Int32(row), Int32(column)) != 0 { return nil }
        return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    /// All rows as text values; fine for small results.
    public var rows: [[String?]] {
        (0..<rowCount).map { r in (0..<columnCount).map { c in value(row: r, column: c) } }
    }
}
