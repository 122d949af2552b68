import LibPQ
import TickModel
import TickNormalisation

extension PostgresSink {
    /// Applies a run of status records in feed order, in one transaction with the bookkeeping of
    /// `progress`: each is recorded in `tickd_trading_status_changes` and sets its instrument's
    /// (or the market's) current status (`TradingStatusSQL.set`). Writing the run again changes
    /// nothing, so a commit in doubt is simply retried. The changes the next batch is classified
    /// under are read in the same transaction.
    nonisolated(nonsending) func writeStatuses(_ run: [KeyedTick], progress: BatchProgress) async throws(SinkError) -> BatchResult {
        try await withRetries(table: "tickd_trading_status") { () throws(PostgresError) -> BatchResult in
            let db = try self.connected()
            do throws(PostgresError) {
                var statements = [Statement("BEGIN", operation: "begin")]
                for keyed in run {
                    guard let status = keyed.tick.status else { continue }
                    statements.append(Self.setStatus(status, of: keyed.tick.symbol, at: keyed.tick.time, reason: nil, source: "feed"))
                }
                let changesEnd = statements.count
                statements.append(Statement(TradingStatusSQL.changes, operation: "read tickd_trading_status_changes"))
                statements += self.bookkeeping(progress, stored: 0)
                statements.append(Statement("COMMIT", operation: "commit"))
                let done = try db.pipeline(statements)
                self.priceGate.holds = TradingHolds(done[changesEnd])
                var result = BatchResult()
                result.statusChanges = done[1..<changesEnd].reduce(0) { $0 + ($1.value(row: 0, column: 0).flatMap { Int($0) } ?? 0) }
                return result
            } catch {
                if db.isOpen && db.isInTransaction { _ = try? db.execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// The statement that sets a status (`TradingStatusSQL.set`).
    static func setStatus(_ status: TradingStatus, of symbol: Symbol, at time: Timestamp, reason: String?, source: String) -> Statement {
        Statement(TradingStatusSQL.set, [symbol.rawValue, status.description, time.rfc3339(fractionDigits: 6), reason, source],
                  operation: "update tickd_trading_status")
    }
}
