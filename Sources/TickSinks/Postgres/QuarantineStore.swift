import LibPQ
import TickModel
import TickNormalisation

/// The trades the price checks held back (`tickd_quarantine`), as `tickd quarantine` reads and
/// releases them. (The batch path holds them in its own transaction: `BatchSQL.quarantine`.)
public enum QuarantineStore {
    /// One held-back trade.
    public struct HeldTrade: Sendable, Equatable {
        public var id: Int64
        public var keyed: KeyedTick
        public var violations: [String]
        public var previousClose: String?
        public var limitPercent: String?
        public var quarantinedAt: String
    }

    static let columns = """
        id, (extract(epoch FROM time) * 1000000)::int8, symbol, trade_seq, open::text, high::text, low::text, close::text,
        volume, array_to_string(violations, ','), previous_close::text, limit_percent::text, quarantined_at::text
        """

    /// The trades held now (not released), oldest first; only `ids` when given.
    public static func held(on db: Connection, ids: [Int64]?) throws(SinkError) -> [HeldTrade] {
        do {
            let rows = if let ids {
                try db.execute("SELECT \(columns) FROM tickd_quarantine WHERE released_at IS NULL AND id = ANY($1::int8[]) ORDER BY id",
                               [PostgresArray.int64(ids)]).rows
            } else {
                try db.execute("SELECT \(columns) FROM tickd_quarantine WHERE released_at IS NULL ORDER BY id").rows
            }
            return rows.compactMap(trade)
        } catch {
            throw SinkError(table: "tickd_quarantine", underlying: error.during("read tickd_quarantine"))
        }
    }

    /// Marks `ids` released (after their trades were stored and published).
    public static func markReleased(_ ids: [Int64], on db: Connection) throws(SinkError) {
        do {
            try db.execute("UPDATE tickd_quarantine SET released_at = now() WHERE id = ANY($1::int8[])", [PostgresArray.int64(ids)])
        } catch {
            throw SinkError(table: "tickd_quarantine", underlying: error.during("update tickd_quarantine"))
        }
    }

    /// Marks those of `ids` released whose trade is now stored with its held values (a re-check
    /// stored them); returns how many.
    public static func markReleasedWhereStored(_ ids: [Int64], ticksTable: TableName, on db: Connection) throws(SinkError) -> Int {
        do {
            return try db.execute("""
                UPDATE tickd_quarantine q SET released_at = now()
                WHERE q.id = ANY($1::int8[]) AND q.released_at IS NULL AND EXISTS (
                    SELECT 1 FROM \(ticksTable.sql) m WHERE m.symbol = q.symbol AND m.time = q.time AND m.trade_seq = q.trade_seq
                    AND (m.open, m.high, m.low, m.close, m.volume) = (q.open, q.high, q.low, q.close, q.volume))
                RETURNING q.id
                """, [PostgresArray.int64(ids)]).rowCount
        } catch {
            throw SinkError(table: "tickd_quarantine", underlying: error.during("update tickd_quarantine"))
        }
    }

    static func trade(_ row: [String?]) -> HeldTrade? {
        guard let id = row[0].flatMap({ Int64($0) }), let micros = row[1].flatMap({ Int64($0) }), let symbol = row[2],
              let tradeSeq = row[3].flatMap({ Int64($0) }), let open = row[4].flatMap(PostgresSink.price),
              let high = row[5].flatMap(PostgresSink.price), let low = row[6].flatMap(PostgresSink.price),
              let close = row[7].flatMap(PostgresSink.price), let volume = row[8].flatMap({ Int64($0) }) else { return nil }
        let tick = Tick(time: Timestamp(nanosecondsSinceEpoch: micros * 1000), symbol: Symbol(symbol),
                        open: open, high: high, low: low, close: close, volume: volume)
        return HeldTrade(id: id, keyed: KeyedTick(tick: tick, tradeSeq: tradeSeq), violations: (row[9] ?? "").split(separator: ",").map(String.init),
                         previousClose: row[10], limitPercent: row[11], quarantinedAt: row[12] ?? "")
    }
}
