import ArgumentParser
import Foundation
import TickDaemon
import TickNormalisation

/// `tickd redrive FILE [--reason R]...`: re-ingest dead letters through the normal path.
struct RedriveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redrive",
        abstract: "Re-ingest the raw lines of a dead-letter file (all, or by reason) through the normal path.")

    @Argument(help: "A dead-letter file (JSON lines, as tickd writes them).")
    var file: String

    @Option(name: .customLong("reason"), help: "Only dead letters with this reason code, e.g. unknown_symbol (repeatable; default: every reason).")
    var reasons: [String] = []

    @Option(name: .customLong("report"), help: "Print the report as JSON on stdout ('json').")
    var report: String?

    @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
    var configPath: String?

    @Option(name: .customLong("dead-letter"), help: "Dead-letter file for lines rejected again (overrides dead_letter.path).")
    var deadLetter: String?

    func run() async throws {
        if let report, report != "json" { throw UsageFailure(description: "--report: only 'json' is supported, got '\(report)'") }
        for reason in reasons where RejectReason(rawValue: reason) == nil {
            throw UsageFailure(description: "--reason: '\(reason)' is not a reject reason (\(RejectReason.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let config = try loadConfig(configPath)
        let contents: Data
        do { contents = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
            throw RedriveFailure(description: "\(file): cannot read the dead-letter file: \(error.localizedDescription)")
        }
        let plan = Redrive.plan(contents, reasons: Set(reasons))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tickd-redrive-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let feeds = try Redrive.write(plan, into: directory)
        var result = IngestReport()
        if !feeds.isEmpty {
            result = try await ReplayRunner(config: config, request: ReplayRequest(files: feeds, dryRun: false, deadLetterPath: deadLetter,
                                                                             resume: false)).run()
        }
        if report == "json" {
            print(result.json)
        } else {
            FileHandle.standardError.write(Data("""
                tickd: redrove \(result.read) dead letters from \(plan.feeds.count) feed(s): \(result.accepted) accepted \
                (\(result.inserted) new or changed in the database), \(result.rejected) rejected again; left alone: \
                \(plan.otherReasons) of other reasons, \(plan.truncated) truncated, \(plan.unreadable) unreadable

                """.utf8))
        }
    }
}

/// A dead-letter file that cannot be read: exit 1.
struct RedriveFailure: Error, CustomStringConvertible {
    let description: String
}
