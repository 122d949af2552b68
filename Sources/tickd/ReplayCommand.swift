import ArgumentParser
import Foundation
import TickCodecs
import TickDaemon
import TickModel
import TickNormalisation

/// `tickd replay FILE...`: one-shot replay of recorded feeds.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay recorded feeds (plain, .gz, .zst; - is stdin), then exit.")

    @Argument(help: "Feed files to replay, in order; - reads standard input.")
    var files: [String]

    @Option(help: "Record format: auto (a line starting with { is JSON), csv or ndjson.")
    var format: String?

    @Option(help: "Pace: max, realtime or Nx (e.g. 60x).")
    var speed: String = "max"

    @Option(help: "Replay only ticks at or after this time.")
    var from: String?

    @Option(help: "Replay only ticks before this time.")
    var to: String?

    @Option(help: "Replay only these symbols (comma-separated).")
    var symbols: String?

    @Flag(name: .customLong("dry-run"), help: "Parse and normalise only: no database, no Redis.")
    var dryRun = false

    @Flag(name: .customLong("no-resume"),
          help: "Read each file from its start, even when an earlier replay of it committed part of it.")
    var noResume = false

    @Option(help: "Print a report when done: json.")
    var report: String?

    @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
    var configPath: String?

    @Option(name: .customLong("dead-letter"), help: "Dead-letter file for rejected records (overrides dead_letter.path).")
    var deadLetter: String?

    func run() async throws {
        if let report, report != "json" { throw UsageFailure(description: "--report: only 'json' is supported, got '\(report)'") }
        var feedFormat: FeedFormat?
        if let format {
            guard let parsed = FeedFormat(rawValue: format.lowercased()) else {
                throw UsageFailure(description: "--format must be auto, csv or ndjson, got '\(format)'")
            }
            feedFormat = parsed
        }
        guard let pace = ReplaySpeed(speed) else {
            throw UsageFailure(description: "--speed must be max, realtime or Nx (e.g. 60x), got '\(speed)'")
        }
        let config = try loadConfig(configPath)
        let filter = try TickFilter(from: from.map { try ReplayCommand.time($0, flag: "--from", config: config) },
                                    to: to.map { try ReplayCommand.time($0, flag: "--to", config: config) },
                                    symbols: try symbols.map { try ReplayCommand.symbols($0, config: config) })
        let request = ReplayRequest(files: files, format: feedFormat, dryRun: dryRun, deadLetterPath: deadLetter,
                                    speed: pace, filter: filter, progress: true, resume: !noResume)
        let result = try await ReplayRunner(config: config, request: request).run()
        if report == "json" {
            print(result.json)
        } else {
            FileHandle.standardError.write(Data(
                "tickd: replayed \(result.read) records: \(result.accepted) accepted, \(result.rejected) rejected\n".utf8))
        }
    }

    /// A `--from`/`--to` time: any form the feeds accept; naive times are exchange time.
    static func time(_ text: String, flag: String, config: TickdConfig) throws -> Timestamp {
        var bytes = Array(text.utf8)
        let parsed = bytes.withUnsafeMutableBufferPointer { TimeText.parse(UnsafeBufferPointer($0)) }
        switch parsed {
        case .instant(let instant): return instant
        case .naive(let wall):
            var zone = try config.exchangeZone()
            return zone.instant(ofWallClock: wall)
        case .invalid:
            throw UsageFailure(description: "\(flag): '\(text)' is not a time (RFC 3339, a date, or epoch seconds/ms/us/ns)")
        }
    }

    /// `--symbols SCOM,kcb,NSE:EQTY`: cleaned up like feed symbols (case, prefixes, aliases).
    static func symbols(_ text: String, config: TickdConfig) throws -> Set<Symbol> {
        let rules = try config.makeSymbolRules(known: [])
        var result: Set<Symbol> = []
        for part in text.split(separator: ",") {
            var open = rules
            open.unknownPolicy = .accept
            guard case .success(let symbol) = open.normalise(String(part)) else {
                throw UsageFailure(description: "--symbols: '\(part)' is not a symbol")
            }
            result.insert(symbol)
        }
        guard !result.isEmpty else { throw UsageFailure(description: "--symbols: give at least one symbol") }
        return result
    }
}
