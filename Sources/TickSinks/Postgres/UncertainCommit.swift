import LibPQ
import TickModel

/// A batch whose connection was lost around its `COMMIT`: the server may or may not have
/// committed it.
struct UncertainCommit {
    /// `txid_current()` of the batch's transaction, read after `BEGIN`.
    let transaction: String
    /// What the batch returns if it committed: the ticks it stored, with their seqs.
    let result: BatchResult

    /// What became of the transaction, asked on a new connection.
    enum Fate { case committed, notCommitted, inProgress }

    /// The transaction id alone cannot say "committed": a server that crashed before the commit
    /// record reached its disk forgets the id, calls it "in the future" (SQLSTATE 22023), and then
    /// hands it to its next transaction, whose commit `txid_status` reports as this one's. So the
    /// id only says "still in progress" (wait); the batch's own rows decide. A transaction is
    /// atomic, so one row tells: the batch's first stored tick, in the table under the seq this
    /// batch gave it (a correction's or cancel's: its event, under its seq). A batch that stored
    /// no tick only moved bookkeeping, which writing it again leaves as it is.
    func fate(on db: Connection, sql: BatchSQL) throws(PostgresError) -> Fate {
        do {
            let status = try db.execute(BatchSQL.transactionStatus, [transaction]).value(row: 0, column: 0)
            if status == "in progress" { return .inProgress }
        } catch where error.sqlState == .invalidParameterValue {
            return .notCommitted
        }
        guard let first = result.stored.first else { return .notCommitted }
        // A correction or cancel is recorded under its seq in the events table.
        let row = first.keyed.tick.action.isAmendment
            ? try db.execute(AmendmentSQL.storedEvent, [first.keyed.tick.symbol.rawValue, String(first.seq)])
            : try db.execute(sql.storedSeq, [first.keyed.tick.symbol.rawValue, first.keyed.tick.time.rfc3339(fractionDigits: 6), String(first.keyed.tradeSeq)])
        return row.value(row: 0, column: 0) == String(first.seq) ? .committed : .notCommitted
    }
}
