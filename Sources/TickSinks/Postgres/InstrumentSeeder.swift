import LibPQ
import TickModel

/// Upserts the instrument list into `stocks` by symbol. Descriptive columns follow the list;
/// `latest_price` and `previous_close` take the list's price only while they are still empty
/// (they are live data once ticks flow). A row whose values are unchanged is not touched.
public struct InstrumentSeeder {
    public let stocksTable: TableName

    public init(stocksTable: TableName) { self.stocksTable = stocksTable }

    /// What a seed run did.
    public struct Outcome: Sendable, Equatable {
        public var inserted = 0
        public var updated = 0
        public var unchanged = 0

        public init(inserted: Int = 0, updated: Int = 0, unchanged: Int = 0) {
            self.inserted = inserted
            self.updated = updated
            self.unchanged = unchanged
        }
    }

    public func seed(_ instruments: [Instrument], into db: Connection) throws(SinkError) -> Outcome {
        let table = stocksTable.sql
        let statement = """
            INSERT INTO \(table) AS s (symbol, name, sector, exchange, currency, lot_size, market_cap,
                                       latest_price, previous_close, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6::integer, $7::numeric, $8::numeric, $8::numeric, now())
            ON CONFLICT (symbol) DO UPDATE SET
                name = EXCLUDED.name, sector = EXCLUDED.sector, exchange = EXCLUDED.exchange,
                currency = EXCLUDED.currency, lot_size = EXCLUDED.lot_size, market_cap = EXCLUDED.market_cap,
                latest_price = COALESCE(s.latest_price, EXCLUDED.latest_price),
                previous_close = COALESCE(s.previous_close, EXCLUDED.previous_close), updated_at = now()
            WHERE (s.name, s.sector, s.exchange, s.currency, s.lot_size, s.market_cap)
                  IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.sector, EXCLUDED.exchange, EXCLUDED.currency,
                                    EXCLUDED.lot_size, EXCLUDED.market_cap)
               OR (s.latest_price IS NULL AND EXCLUDED.latest_price IS NOT NULL)
            RETURNING (xmax = 0) AS inserted
            """
        var outcome = Outcome()
        do {
            try db.execute("BEGIN")
            for instrument in instruments {
                let result = try db.execute(statement, [
                    instrument.symbol.rawValue, instrument.name, instrument.sector, instrument.exchange,
                    instrument.currency, String(instrument.lotSize), instrument.marketCap?.description,
                    instrument.price?.description])
                if result.rowCount == 0 { outcome.unchanged += 1 }
                else if result.value(row: 0, column: 0) == "t" { outcome.inserted += 1 }
                else { outcome.updated += 1 }
            }
            try db.execute("COMMIT")
        } catch {
            if db.isOpen { _ = try? db.execute("ROLLBACK") }
            throw SinkError(table: stocksTable.description, underlying: error.during("seed \(stocksTable)"))
        }
        return outcome
    }
}
