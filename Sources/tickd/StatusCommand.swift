import ArgumentParser
import Foundation
import TickCodecs
import TickDaemon
import TickModel

/// `tickd status set|list`: trading halts, suspensions and the market's phase.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Halt, suspend or resume an instrument, set the market's phase, or list what holds.",
        subcommands: [Set.self, List.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an instrument's status (halted, suspended, resumed) or the market's (market: pre_open, open, closed, halted, resumed).")

        @Argument(help: "A listed instrument, or `market`.")
        var symbol: String

        @Argument(help: "halted, suspended or resumed; for the market pre_open, open, closed, halted or resumed.")
        var status: String

        @Option(help: "Why (kept with the status and sent in its message).")
        var reason: String?

        @Option(help: "From when (RFC 3339; default now): trades at or after it are held.")
        var at: String?

        @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
        var configPath: String?

        func run() throws {
            guard let parsed = TradingStatus(named: status) else {
                throw UsageFailure(description: "status set: '\(status)' is not halted, suspended, resumed, pre_open, open or closed")
            }
            let isMarket = ["market", "*"].contains(symbol.lowercased())
            if isMarket ? !parsed.isMarketStatus : !parsed.isInstrumentStatus {
                throw UsageFailure(description: isMarket ? "status set: the market is pre_open, open, closed, halted or resumed, not \(parsed)"
                                                         : "status set: an instrument is halted, suspended or resumed; \(parsed) is a market phase")
            }
            var since = Timestamp.now()
            if let at {
                var text = at
                guard case .instant(let instant) = text.withUTF8({ TimeText.parse($0) }) else {
                    throw UsageFailure(description: "status set: --at '\(at)' is not an RFC 3339 time with a zone (2026-03-02T09:41:00+03:00)")
                }
                since = instant
            }
            let config = try loadConfig(configPath)
            let target = isMarket ? TradingStatus.market : Symbol(symbol.uppercased())
            let outcome: TradingStatusCommands.Outcome
            do {
                outcome = try TradingStatusCommands.set(parsed, of: target, reason: reason, since: since, config: config)
            } catch let error as TradingStatusCommands.UnknownInstrument {
                throw UsageFailure(description: error.description)
            }
            let name = isMarket ? "market" : target.rawValue
            if outcome.changed {
                print("\(name) \(parsed) since \(outcome.entry?.since.description ?? since.description)")
            } else {
                print("\(name) unchanged: \(outcome.entry.map { "\($0.status) since \($0.since) (\($0.source))" } ?? "no status")")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every status set, the market first.")

        @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
        var configPath: String?

        func run() throws {
            let entries = try TradingStatusCommands.list(config: try loadConfig(configPath))
            print("symbol\tstatus\tsince\tsource\treason")
            for entry in entries {
                print([entry.symbol == TradingStatus.market ? "market" : entry.symbol.rawValue, entry.status.description,
                       entry.since.description, entry.source, entry.reason ?? ""].joined(separator: "\t"))
            }
        }
    }
}
