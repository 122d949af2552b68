import Foundation
import Logging
import TickModel
import TickNormalisation
import TickSinks

/// `tickd corporate-actions import|list`: splits, bonus issues and consolidations.
public enum CorporateActions {
    /// A file that is not a list of corporate actions: the first bad line, and what is wrong.
    public struct FileError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// What an import did.
    public struct Imported: Sendable, Equatable {
        /// Actions in the file, and those of them new or with a new ratio.
        public var read = 0
        public var changed = 0
        /// Symbols whose previous_close was set again (an action whose ex-date had begun).
        public var adjusted: [Symbol] = []
        /// Held trades of an ex-date or later looked at again, and those now stored.
        public var rechecked = 0
        public var stored = 0
    }

    /// Reads `symbol,ex_date,kind,ratio` lines (an optional header line, blank lines and `#`
    /// comments skipped); the whole file or nothing: the first bad line throws `FileError`.
    public static func read(path: String, listed: Set<Symbol>?) throws -> [CorporateAction] {
        guard let data = FileManager.default.contents(atPath: path) else { throw FileError(description: "cannot read \(path)") }
        var actions: [CorporateAction] = []
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty || text.hasPrefix("#") || (index == 0 && text.lowercased().hasPrefix("symbol,")) { continue }
            switch CorporateAction.parse(text) {
            case .success(let action):
                if let listed, !listed.contains(action.symbol) {
                    throw FileError(description: "\(path):\(index + 1): '\(action.symbol)' is not a listed instrument (stocks)")
                }
                actions.append(action)
            case .failure(let error):
                throw FileError(description: "\(path):\(index + 1): \(error)")
            }
        }
        return actions
    }

    /// Imports the actions of `path`; for those whose ex-date has begun, sets previous_close again
    /// and re-checks the trades held since the ex-date (a split's first day traded outside the old
    /// band until the split was known).
    public static func importFile(config: TickdConfig, path: String, logger: Logger = Logger(label: "tickd.corporate-actions")) async throws -> Imported {
        let db = try DatabaseCommands.connect(config, purpose: "corporate-actions import")
        let listed = Set(try db.execute("SELECT symbol FROM \(config.stocksTable.sql)").rows.compactMap { $0[0].map { Symbol($0) } })
        let actions = try read(path: path, listed: listed)
        var outcome = Imported(read: actions.count)
        do {
            outcome.changed = try CorporateActionStore.upsert(actions, on: db)
            outcome.adjusted = try CorporateActionStore.adjustPreviousCloses(actions, options: config.schemaOptions, on: db)
        } catch {
            throw DatabaseCommands.explainingPermission(error, command: .run, config: config)
        }
        // Held trades of each action's symbol, from its ex-date (in the exchange's zone) on.
        let zone = try config.exchangeZone()
        let firstDay = Dictionary(actions.map { ($0.symbol, $0.exDate) }, uniquingKeysWith: min)
        let held = try QuarantineStore.held(on: db, ids: nil).filter { entry in
            let tick = entry.keyed.tick
            guard let exDate = firstDay[tick.symbol] else { return false }
            return zone.tradingDay(of: tick.time) >= exDate
        }
        outcome.rechecked = held.count
        if !held.isEmpty { outcome.stored = try await Quarantine.recheck(held, config: config, logger: logger).released }
        logger.notice("corporate actions imported", metadata: ["read": "\(outcome.read)", "changed": "\(outcome.changed)",
                                                               "rechecked": "\(outcome.rechecked)", "stored": "\(outcome.stored)"])
        return outcome
    }

    /// Every stored action.
    public static func list(config: TickdConfig) throws -> [CorporateActionStore.Entry] {
        try CorporateActionStore.all(on: DatabaseCommands.connect(config, purpose: "corporate-actions list"))
    }
}
