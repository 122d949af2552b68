import LibPQ
import TickModel

/// The corporate actions (`tickd_corporate_actions`) as `tickd corporate-actions` imports and
/// lists them. The batch path reads them in its official-close statements (`BatchSQL`).
public enum CorporateActionStore {
    /// One stored action and when it was imported.
    public struct Entry: Sendable, Equatable {
        public var action: CorporateAction
        public var importedAt: String
    }

    /// Stores `actions` in one transaction; the same action again changes nothing, a new ratio
    /// for the same symbol, ex-date and kind replaces the old one. Returns how many were new or
    /// changed.
    public static func upsert(_ actions: [CorporateAction], on db: Connection) throws(SinkError) -> Int {
        do {
            try db.execute("BEGIN")
            var changed = 0
            for action in actions {
                changed += try db.execute("""
                    INSERT INTO tickd_corporate_actions AS a (symbol, ex_date, kind, ratio_new, ratio_old)
                    VALUES ($1, $2::date, $3, $4, $5)
                    ON CONFLICT (symbol, ex_date, kind) DO UPDATE SET ratio_new = EXCLUDED.ratio_new, ratio_old = EXCLUDED.ratio_old,
                        imported_at = now()
                    WHERE (a.ratio_new, a.ratio_old) IS DISTINCT FROM (EXCLUDED.ratio_new, EXCLUDED.ratio_old)
                    RETURNING 1
                    """, [action.symbol.rawValue, action.exDateText, action.kind.rawValue, String(action.newShares), String(action.oldShares)]).rowCount
            }
            try db.execute("COMMIT")
            return changed
        } catch {
            if db.isOpen && db.isInTransaction { _ = try? db.execute("ROLLBACK") }
            throw SinkError(table: "tickd_corporate_actions", underlying: error.during("insert into tickd_corporate_actions"))
        }
    }

    /// Every action, by symbol and ex-date.
    public static func all(on db: Connection) throws(SinkError) -> [Entry] {
        do {
            return try db.execute("""
                SELECT symbol, ex_date::text, kind, ratio_new, ratio_old, imported_at::text FROM tickd_corporate_actions ORDER BY symbol, ex_date, kind
                """).rows.compactMap { row in
                guard let symbol = row[0], let date = row[1], let kind = row[2], let new = row[3], let old = row[4],
                      case .success(let action) = CorporateAction.parse("\(symbol),\(date),\(kind),\(new):\(old)") else { return nil }
                return Entry(action: action, importedAt: row[5] ?? "")
            }
        } catch {
            throw SinkError(table: "tickd_corporate_actions", underlying: error.during("read tickd_corporate_actions"))
        }
    }

    /// Sets `previous_close` again for `symbols` whose current trading day is on or after the
    /// ex-date of one of their actions (an action imported after its ex-date began): the official
    /// close of the day before, in today's shares. Returns the symbols whose previous_close changed.
    public static func adjustPreviousCloses(_ actions: [CorporateAction], options: SchemaOptions,
                                            on db: Connection) throws(SinkError) -> [Symbol] {
        guard !actions.isEmpty else { return [] }
        do {
            let due = try db.execute("""
                UPDATE tickd_latest l SET previous_close_day = NULL
                FROM unnest($1::text[], $2::date[]) AS a(symbol, ex_date)
                WHERE l.symbol = a.symbol AND l.trading_day >= a.ex_date
                RETURNING l.symbol, l.previous_close::text
                """, [PostgresArray.text(actions.map(\.symbol.rawValue)), PostgresArray.plain(actions.map(\.exDateText))]).rows
            let before = Dictionary(due.compactMap { row in row[0].map { (Symbol($0), row[1]) } }, uniquingKeysWith: { first, _ in first })
            guard !before.isEmpty else { return [] }
            let symbols = before.keys.sorted { $0.rawValue < $1.rawValue }
            let now = Timestamp.now().rfc3339(fractionDigits: 6)
            try db.execute(BatchSQL(options).officialClose, [options.exchangeZone, PostgresArray.text(symbols.map(\.rawValue)),
                                                            PostgresArray.plain(symbols.map { _ in now })])
            let after = try db.execute("SELECT symbol, previous_close::text FROM tickd_latest WHERE symbol = ANY($1::text[])",
                                       [PostgresArray.text(symbols.map(\.rawValue))]).rows
            return after.compactMap { row in
                guard let symbol = row[0].map({ Symbol($0) }), before[symbol] != row[1] else { return nil }
                return symbol
            }.sorted { $0.rawValue < $1.rawValue }
        } catch {
            throw SinkError(table: "tickd_latest", underlying: error.during("adjust previous_close"))
        }
    }
}
