import CLibPQ

/// One statement of a pipeline: SQL with text parameters (`$1`, …; nil is NULL), or the name
/// of a statement prepared on the connection; and what it does, for error messages.
public struct Statement: Sendable {
    public let sql: String
    public let prepared: String?
    public let parameters: [String?]
    public let operation: String

    public init(_ sql: String, _ parameters: [String?] = [], operation: String) {
        self.sql = sql
        prepared = nil
        self.parameters = parameters
        self.operation = operation
    }

    /// A statement prepared with `Connection.prepare(_:_:)` (parsed and planned once).
    public init(prepared name: String, _ parameters: [String?], operation: String) {
        sql = ""
        prepared = name
        self.parameters = parameters
        self.operation = operation
    }
}

extension Connection {
    /// Sends `statements` in one libpq pipeline — one round trip to the server however many
    /// there are — and returns their results in order. When one fails, the server skips the
    /// rest up to the pipeline's sync; every result is read before the first error is thrown
    /// (with that statement's `operation`), so the connection is ready for the next command.
    /// Statements are sent with the extended protocol: one statement per SQL string.
    public func pipeline(_ statements: [Statement]) throws(PostgresError) -> [QueryResult] {
        guard PQenterPipelineMode(handle) == 1 else { throw lastError(operation: "pipeline") }
        defer { PQexitPipelineMode(handle) }
        var sent = 0
        for statement in statements {
            let ok = withCStrings(statement.parameters) { values in
                if let name = statement.prepared {
                    PQsendQueryPrepared(handle, name, Int32(statement.parameters.count), values, nil, nil, 0)
                } else {
                    PQsendQueryParams(handle, statement.sql, Int32(statement.parameters.count), nil, values, nil, nil, 0)
                }
            }
            guard ok == 1 else { break }
            sent += 1
        }
        guard PQpipelineSync(handle) == 1 else { throw lastError(operation: statements[min(sent, statements.count - 1)].operation) }
        var results: [QueryResult] = []
        var failure: PostgresError? = sent < statements.count ? lastError(operation: statements[sent].operation) : nil
        var finished = 0  // statements whose results are all read (each ends with a NULL)
        while true {
            guard let result = PQgetResult(handle) else {
                finished += 1
                // One NULL per statement, then the sync; more means the connection is gone.
                if finished > sent || PQstatus(handle) != CONNECTION_OK {
                    throw failure ?? lastError(operation: statements[min(results.count, statements.count - 1)].operation)
                }
                continue
            }
            switch PQresultStatus(result) {
            case PGRES_PIPELINE_SYNC:
                PQclear(result)
                if let failure { throw failure }
                return results
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
                results.append(QueryResult(owning: result))
            case PGRES_PIPELINE_ABORTED:
                PQclear(result)  // skipped after an earlier failure
            default:
                if failure == nil { failure = Self.error(from: result, operation: statements[min(finished, statements.count - 1)].operation) }
                PQclear(result)
            }
        }
    }

    /// Prepares `sql` as the named statement `name` of this connection's session.
    public func prepare(_ name: String, _ sql: String) throws(PostgresError) {
        _ = try check(PQprepare(handle, name, sql, 0, nil), operation: "prepare \(name)")
    }

    private func lastError(operation: String) -> PostgresError {
        PostgresError(sqlState: nil, message: Self.firstLine(PQerrorMessage(handle)), operation: operation)
    }
}
