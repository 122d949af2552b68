import LibPQ
import TickModel
import TickSinks

/// `tickd status set|list`: an operator halts, suspends or resumes an instrument, or sets the
/// market's phase, and sees what holds.
public enum TradingStatusCommands {
    /// Every instrument's status that was ever set, and the market's.
    public static func list(config: TickdConfig) throws -> [TradingStatusStore.Entry] {
        try TradingStatusStore.all(on: DatabaseCommands.connect(config, purpose: "status list"))
    }

    /// What `set` did.
    public struct Outcome: Sendable {
        /// False when it was that status already (or a later one is recorded).
        public var changed: Bool
        /// The row now.
        public var entry: TradingStatusStore.Entry?
    }

    /// A symbol that is not a listed instrument (`stocks`).
    public struct UnknownInstrument: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Sets `symbol`'s status (the market's for `TradingStatus.market`) from `since`, as the
    /// operator. A running tickd publishes the change within a second (one that starts later
    /// publishes the current status).
    public static func set(_ status: TradingStatus, of symbol: Symbol, reason: String?, since: Timestamp,
                           config: TickdConfig) throws -> Outcome {
        let db = try DatabaseCommands.connect(config, purpose: "status set")
        if symbol != TradingStatus.market {
            let listed = try db.execute("SELECT 1 FROM \(config.stocksTable.sql) WHERE symbol = $1", [symbol.rawValue]).rowCount > 0
            guard listed else { throw UnknownInstrument(description: "status set: '\(symbol)' is not a listed instrument (stocks)") }
        }
        let changed = try TradingStatusStore.set(status, of: symbol, since: since, reason: reason, source: "operator", on: db)
        let entry = try TradingStatusStore.all(on: db).first { $0.symbol == symbol }
        let outcome = Outcome(changed: changed, entry: entry)
        return outcome
    }
}
