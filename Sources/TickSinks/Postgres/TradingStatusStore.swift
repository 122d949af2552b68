import LibPQ
import TickModel

/// The trading status of instruments and of the market (`tickd_trading_status`), as the operator
/// command sets and lists it and the status publisher reads it. (Feed status records are written
/// by the batch path: `PostgresSink.writeStatuses`.)
public enum TradingStatusStore {
    /// One row: an instrument (or `TradingStatus.market`) and its status since an instant.
    public struct Entry: Sendable, Equatable {
        public var symbol: Symbol
        public var status: TradingStatus
        public var since: Timestamp
        public var reason: String?
        /// Who set it: `feed`, `operator` or `clock`.
        public var source: String
        /// When tickd recorded it, µs since 1970 (tells two writes of the same status apart).
        public var recordedMicros: Int64

        public init(symbol: Symbol, status: TradingStatus, since: Timestamp, reason: String?, source: String, recordedMicros: Int64) {
            self.symbol = symbol
            self.status = status
            self.since = since
            self.reason = reason
            self.source = source
            self.recordedMicros = recordedMicros
        }
    }

    /// Every current status, the market first.
    public static func all(on db: Connection) throws(SinkError) -> [Entry] {
        try entries(TradingStatusSQL.all, [], on: db)
    }

    /// The changes recorded after `micros` (µs since 1970), oldest first.
    public static func changes(recordedAfter micros: Int64, on db: Connection) throws(SinkError) -> [Entry] {
        try entries(TradingStatusSQL.changesAfter, [String(micros)], on: db)
    }

    /// When the newest change was recorded (µs since 1970; 0 when none was).
    public static func lastRecorded(on db: Connection) throws(SinkError) -> Int64 {
        do {
            return try db.execute(TradingStatusSQL.lastRecorded).value(row: 0, column: 0).flatMap { Int64($0) } ?? 0
        } catch {
            throw SinkError(table: "tickd_trading_status_changes", underlying: error.during("read tickd_trading_status_changes"))
        }
    }

    private static func entries(_ query: String, _ parameters: [String?], on db: Connection) throws(SinkError) -> [Entry] {
        do {
            return try db.execute(query, parameters).rows.compactMap { row in
                guard let symbol = row[0], let status = row[1].flatMap(TradingStatus.init(named:)),
                      let since = row[3].flatMap({ Int64($0) }), let source = row[4], let recorded = row[5].flatMap({ Int64($0) }) else { return nil }
                return Entry(symbol: Symbol(symbol), status: status, since: Timestamp(nanosecondsSinceEpoch: since * 1000),
                             reason: row[2], source: source, recordedMicros: recorded)
            }
        } catch {
            throw SinkError(table: "tickd_trading_status", underlying: error.during("read tickd_trading_status"))
        }
    }

    /// Sets `symbol`'s (or the market's) status from `since`; false when nothing changed (it is
    /// that status already with that reason, or a later status is recorded).
    @discardableResult
    public static func set(_ status: TradingStatus, of symbol: Symbol, since: Timestamp, reason: String?, source: String,
                           on db: Connection) throws(SinkError) -> Bool {
        let statement = PostgresSink.setStatus(status, of: symbol, at: since, reason: reason, source: source)
        do {
            return try db.execute(statement.sql, statement.parameters).value(row: 0, column: 1) != "0"
        } catch {
            throw SinkError(table: "tickd_trading_status", underlying: error.during("update tickd_trading_status"))
        }
    }
}
