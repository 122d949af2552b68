import LibPQ
import TickModel

/// Upserts the instrument list into `stocks` by symbol, on tickd's own table or on the
/// application's as it is (an id made by the ORM, nullable columns, unbounded varchars).
///
/// A new instrument is inserted, with an id when the table has no default for it; descriptive
/// columns the table lacks are left out. An existing row is updated only where tickd owns the
/// table or `overwrite` is set: the application's names, sectors and metadata stay as it wrote
/// them. `latest_price` and `previous_close` take the list's price only while they are still
/// empty (they are live data once ticks flow). A row whose values are unchanged is not touched.
public struct InstrumentSeeder {
    public let stocksTable: TableName
    /// Update existing rows of an application's table too.
    public var overwrite: Bool

    public init(stocksTable: TableName, overwrite: Bool = false) {
        self.stocksTable = stocksTable
        self.overwrite = overwrite
    }

    /// What a seed run did.
    public struct Outcome: Sendable, Equatable {
        public var inserted = 0
        public var updated = 0
        public var unchanged = 0
        /// Rows of the application's table left as they are (no `overwrite`).
        public var kept = 0

        public init(inserted: Int = 0, updated: Int = 0, unchanged: Int = 0, kept: Int = 0) {
            self.inserted = inserted
            self.updated = updated
            self.unchanged = unchanged
            self.kept = kept
        }
    }

    public func seed(_ instruments: [Instrument], into db: Connection) throws -> Outcome {
        let shape: TableShape
        let owner: StocksOwner
        do {
            guard let found = try TableShape.inspect(stocksTable, on: db) else {
                throw TableConflict(table: stocksTable.description, description: "table \(stocksTable) does not exist: run tickd migrate first (it creates it when the application has not)")
            }
            shape = found
            owner = try Self.owner(db)
        } catch let error as PostgresError {
            throw SinkError(table: stocksTable.description, underlying: error.during("inspect \(stocksTable)"))
        }
        try StocksTable.checkSeed(shape)
        let statement = try upsert(shape, updatingExisting: owner == .tickd || overwrite)
        var outcome = Outcome()
        do {
            try db.execute("BEGIN")
            for instrument in instruments {
                let values: [String: String?] = [
                    "symbol": instrument.symbol.rawValue, "name": instrument.name, "sector": instrument.sector,
                    "exchange": instrument.exchange, "currency": instrument.currency, "lot_size": String(instrument.lotSize),
                    "market_cap": instrument.marketCap?.description, "price": instrument.price?.description]
                let result = try db.execute(statement.sql, statement.parameters.map { values[$0] ?? nil })
                if result.rowCount == 0 {
                    if owner == .tickd || overwrite { outcome.unchanged += 1 } else { outcome.kept += 1 }
                } else if result.value(row: 0, column: 0) == "t" {
                    outcome.inserted += 1
                } else {
                    outcome.updated += 1
                }
            }
            try db.execute("COMMIT")
        } catch {
            if db.isOpen { _ = try? db.execute("ROLLBACK") }
            throw SinkError(table: stocksTable.description, underlying: error.during("seed \(stocksTable)"))
        }
        return outcome
    }

    /// Who owns `stocks`, as migrate recorded it; a database migrate has not recorded it in
    /// (not migrated, or by a tickd before it did) is taken to be the application's.
    static func owner(_ db: Connection) throws(PostgresError) -> StocksOwner {
        do {
            let recorded = try db.execute("SELECT stocks_owner FROM tickd_database").value(row: 0, column: 0)
            return recorded.flatMap(StocksOwner.init(rawValue:)) ?? .application
        } catch where error.sqlState == .undefinedTable || error.sqlState == .undefinedColumn {
            return .application
        }
    }

    /// The upsert for the columns `shape` has, and the names of its parameters in order.
    func upsert(_ shape: TableShape, updatingExisting: Bool) throws(TableConflict) -> (sql: String, parameters: [String]) {
        var columns: [String] = [], values: [String] = [], parameters: [String] = []
        if let id = try StocksTable.idExpression(shape) {
            columns.append("id")
            values.append(id)
        }
        func parameter(_ column: String, _ cast: String = "") {
            parameters.append(column)
            columns.append(column)
            values.append("$\(parameters.count)\(cast)")
        }
        parameter("symbol")
        parameter("name")
        let descriptive = StocksTable.descriptiveColumns.map(\.name).filter { $0 != "name" && shape.column($0) != nil }
        for column in descriptive { parameter(column, column == "lot_size" ? "::integer" : column == "market_cap" ? "::numeric" : "") }
        parameters.append("price")
        columns += ["latest_price", "previous_close", "updated_at"]
        values += ["$\(parameters.count)::numeric", "$\(parameters.count)::numeric", "now()"]
        let described = ["name"] + descriptive
        let conflict = updatingExisting ? """
            DO UPDATE SET \(described.map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")),
                latest_price = COALESCE(s.latest_price, EXCLUDED.latest_price),
                previous_close = COALESCE(s.previous_close, EXCLUDED.previous_close), updated_at = now()
            WHERE (\(described.map { "s.\($0)" }.joined(separator: ", "))) IS DISTINCT FROM (\(described.map { "EXCLUDED.\($0)" }.joined(separator: ", ")))
               OR (s.latest_price IS NULL AND EXCLUDED.latest_price IS NOT NULL)
            """ : "DO NOTHING"
        let sql = """
            INSERT INTO \(stocksTable.sql) AS s (\(columns.joined(separator: ", ")))
            VALUES (\(values.joined(separator: ", ")))
            ON CONFLICT (symbol) \(conflict)
            RETURNING (xmax = 0) AS inserted
            """
        return (sql, parameters)
    }
}
