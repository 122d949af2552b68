import ArgumentParser
import Foundation
import TickDaemon
import TickPipeline

/// `tickd replay FILE...`: one-shot replay of recorded feeds.
struct ReplayCommand: ParsableCommand {
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

    @Option(help: "Print a report when done: json.")
    var report: String?

    @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
    var configPath: String?

    @Option(name: .customLong("dead-letter"), help: "Dead-letter file for rejected records (overrides dead_letter.path).")
    var deadLetter: String?

    func run() throws {
        if let report, report != "json" { throw UsageFailure(description: "--report: only 'json' is supported, got '\(report)'") }
        var feedFormat: FeedFormat?
        if let format {
            guard let parsed = FeedFormat(rawValue: format.lowercased()) else {
                throw UsageFailure(description: "--format must be auto, csv or ndjson, got '\(format)'")
            }
            feedFormat = parsed
        }
        if speed != "max" { throw UsageFailure(description: "--speed \(speed): paced replay is not implemented yet (only max)") }
        if from != nil || to != nil || symbols != nil {
            throw UsageFailure(description: "--from/--to/--symbols: filters are not implemented yet")
        }
        let config = try ConfigLoader.load(explicitPath: configPath, environment: ProcessInfo.processInfo.environment)
        let request = ReplayRequest(files: files, format: feedFormat, dryRun: dryRun, deadLetterPath: deadLetter)
        let result = try ReplayRunner(config: config, request: request).run()
        if report == "json" {
            print(result.json)
        } else {
            FileHandle.standardError.write(Data(
                "tickd: replayed \(result.read) records: \(result.accepted) accepted, \(result.rejected) rejected\n".utf8))
        }
    }
}
