import Foundation
import Gzip
import Testing
import TestSupport
import TickDaemon
import TickModel

/// The sample day of Seeds/feeds against what the generator computed on its own
/// (`nse-2026-01-05.expected.json`): counts, every bad line and its reason, per-symbol totals.
@Suite(.ownThreads) struct SampleFeedTests {
    static let feeds = TickdProcess.repositoryRoot.appendingPathComponent("Seeds/feeds")
    static let trades = "Seeds/feeds/nse-2026-01-05.trades.csv"
    static let bars = "Seeds/feeds/nse-2026-01-05.bars-1m.ndjson.zst"

    struct Expected: Decodable {
        struct Reject: Decodable, Equatable { let line: Int; let reason: String }
        struct Totals: Decodable, Equatable {
            let count: Int; let volume: Int64; let high: String; let low: String
            let last_close: String; let last_time_ms: Int64
        }
        struct File: Decodable { let records: Int; let accepted: Int; let rejects: [Reject]; let symbols: [String: Totals]? }
        let files: [String: File]
    }

    static func expected() throws -> Expected {
        let data = try Data(contentsOf: feeds.appendingPathComponent("nse-2026-01-05.expected.json"))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    static func report(_ stdout: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test func dryRunReportAndDeadLettersMatchTheRecordedBadLines() throws {
        let expected = try Self.expected()
        let deadLetters = TickdProcess.temporaryPath("dead.jsonl")
        defer { try? FileManager.default.removeItem(atPath: deadLetters) }
        let run = try TickdProcess.run(["replay", Self.trades, Self.bars, "--dry-run", "--report", "json",
                                        "--dead-letter", deadLetters])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Self.report(run.stdout)
        let files = ["nse-2026-01-05.trades.csv", "nse-2026-01-05.bars-1m.ndjson.zst"].compactMap { expected.files[$0] }
        #expect(files.count == 2)
        #expect(report["read"] as? Int == files.map(\.records).reduce(0, +))
        #expect(report["accepted"] as? Int == files.map(\.accepted).reduce(0, +))
        #expect(report["rejected"] as? Int == files.map(\.rejects.count).reduce(0, +))
        #expect(report["inserted"] as? Int == 0)
        #expect(report["published"] as? Int == 0)
        #expect(report["seconds"] is Double || report["seconds"] is Int)
        #expect(report["ticks_per_second"] != nil)
        var byReason: [String: Int] = [:]
        for file in files { for reject in file.rejects { byReason[reject.reason, default: 0] += 1 } }
        #expect(report["rejected_by_reason"] as? [String: Int] == byReason)

        // Every dead letter names its file, line and reason, exactly as written down by the generator.
        let records = try String(contentsOfFile: deadLetters, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        for (name, file) in expected.files where name.hasPrefix("nse-2026-01-05") {
            let got = records.filter { ($0["source"] as? String)?.hasSuffix(name) == true }
                .map { Expected.Reject(line: $0["line"] as! Int, reason: $0["reason"] as! String) }
            #expect(got == file.rejects, "\(name)")
        }
        #expect(records.allSatisfy { $0["raw"] is String && $0["detail"] is String })
    }

    @Test func perSymbolTotalsMatchTheGeneratorsOwnComputation() async throws {
        let expected = try Self.expected()
        for (name, file) in [("nse-2026-01-05.trades.csv", Self.trades), ("nse-2026-01-05.bars-1m.ndjson.zst", Self.bars)] {
            var config = TickdConfig()
            config.instrumentsFile = TickdProcess.repositoryRoot.appendingPathComponent("Seeds/stocks.csv").path
            let request = ReplayRequest(files: [TickdProcess.repositoryRoot.appendingPathComponent(file).path], dryRun: true,
                                        deadLetterPath: TickdProcess.temporaryPath("dl.jsonl"))
            var totals: [String: Expected.Totals] = [:]
            let collected = Collected<Tick>()
            _ = try await ReplayRunner(config: config, request: request).run { collected.append($0) }
            let ticks = collected.all
            for (symbol, group) in Dictionary(grouping: ticks, by: { $0.symbol.rawValue }) {
                let last = group.last!
                totals[symbol] = Expected.Totals(
                    count: group.count, volume: group.map(\.volume).reduce(0, +),
                    high: group.map(\.high).reduce(group[0].high) { Price.max($0, $1) }.description,
                    low: group.map(\.low).reduce(group[0].low) { Price.min($0, $1) }.description,
                    last_close: last.close.description, last_time_ms: last.time.nanosecondsSinceEpoch / 1_000_000)
            }
            let entry = try #require(expected.files[name])
            let want = try #require(entry.symbols)
            #expect(totals.count == 20)
            #expect(totals == want, "\(name)")
        }
    }

    @Test func stdinAndGzipGiveTheSameCountsAsThePlainFile() throws {
        let plain = try Data(contentsOf: TickdProcess.repositoryRoot.appendingPathComponent(Self.trades))
        let gz = TickdProcess.temporaryPath("trades.csv.gz")
        try Data(try Gzip.compress(Array(plain))).write(to: URL(fileURLWithPath: gz))
        let deadLetters = TickdProcess.temporaryPath("dead.jsonl")
        defer { [gz, deadLetters].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let baseline = try Self.report(try TickdProcess.run(["replay", Self.trades, "--dry-run", "--report", "json",
                                                             "--dead-letter", deadLetters]).stdout)
        let fromStdin = try TickdProcess.run(["replay", "-", "--dry-run", "--report", "json", "--dead-letter", deadLetters], stdin: plain)
        let fromGzip = try TickdProcess.run(["replay", gz, "--dry-run", "--report", "json", "--dead-letter", deadLetters])
        for run in [fromStdin, fromGzip] {
            #expect(run.status == 0, "\(run.stderr)")
            let report = try Self.report(run.stdout)
            for key in ["read", "accepted", "rejected"] { #expect(report[key] as? Int == baseline[key] as? Int, "\(key)") }
        }
        #expect((baseline["accepted"] as? Int ?? 0) >= 100_000)
    }
}
