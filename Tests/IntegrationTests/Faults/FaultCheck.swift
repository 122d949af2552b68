import Foundation
import TestSupport

/// The reference feed of a fault case and the comparison of what the database and a Redis
/// subscriber ended with against it.
struct ReferenceFeed {
    /// The 20 instruments of Seeds/stocks.csv.
    static let symbols = NSEInstruments.symbols
    static let header = "time,symbol,price,volume,trade_id\n"
    let count: Int

    /// Tick `i` (0-based): a trade of one of the 20 NSE symbols with its own trade_id.
    static func line(_ i: Int) -> String {
        let ms = i * 37
        return String(format: "2026-01-05T%02d:%02d:%02d.%03dZ,%@,%d.%02d,%d,%d\n", 6 + ms / 3_600_000, ms / 60_000 % 60,
                      ms / 1000 % 60, ms % 1000, symbols[i % 20], 10 + i % 90, i % 100, 100 + i % 7 * 100, i + 1)
    }

    func lines(_ range: Range<Int>) -> String { range.map(Self.line).joined() }

    func writeFile(_ path: String) throws {
        try (Self.header + lines(0..<count)).write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// What a fault case ended with: 0 lost and 0 duplicated is a pass.
struct FaultVerdict: CustomStringConvertible {
    var sent = 0
    var stored = 0
    var lost = 0
    /// Ticks stored more than once (two seqs for one trade), or seqs given twice.
    var duplicated = 0
    /// Per-symbol seq sequences with a hole.
    var seqGaps = 0
    var redisReceived = 0
    /// Stored ticks no subscriber saw (and not in a logged gap).
    var redisLost = 0
    /// Messages that match no stored tick (a wrong seq or values).
    var redisWrong = 0
    /// The same seq received again (at-least-once delivery).
    var redisRedelivered = 0

    var description: String {
        "sent \(sent), stored \(stored), lost \(lost), duplicated \(duplicated), seq gaps \(seqGaps); redis received \(redisReceived), lost \(redisLost), wrong \(redisWrong), redelivered \(redisRedelivered)"
    }

    var passes: Bool { lost == 0 && duplicated == 0 && seqGaps == 0 && redisLost == 0 && redisWrong == 0 && stored == sent }

    /// Compares the database of `db` and the `messages` of subscribers with the reference of `sent` ticks.
    static func check(_ db: TestDatabase, sent: Int, messages: [TickSubscriber.Message]?) throws -> FaultVerdict {
        try check(rows: db.rows, sent: sent, messages: messages)
    }

    /// The same against any database, through `rows` (a query → its rows as text).
    static func check(rows: (String) throws -> [[String?]], sent: Int, messages: [TickSubscriber.Message]?) throws -> FaultVerdict {
        var verdict = FaultVerdict()
        verdict.sent = sent
        let totals = try rows("SELECT count(*), count(DISTINCT trade_seq) FROM market_ticks")[0]
        verdict.stored = Int(totals[0] ?? "") ?? -1
        let distinctTrades = Int(totals[1] ?? "") ?? -1
        verdict.lost = sent - distinctTrades
        verdict.duplicated = verdict.stored - distinctTrades
        for row in try rows("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM market_ticks GROUP BY symbol") {
            let n = Int(row[0] ?? "") ?? 0, distinct = Int(row[1] ?? "") ?? 0
            verdict.duplicated += n - distinct
            if row[2] != "1" || Int(row[3] ?? "") != n { verdict.seqGaps += 1 }
        }
        guard let messages else { return verdict }
        let stored = try rows("SELECT symbol, seq, close::text, volume FROM market_ticks")
        var byKey: [String: String] = [:]
        for row in stored { byKey["\(row[0] ?? "") \(row[1] ?? "")"] = "\(row[2] ?? "") \(row[3] ?? "")" }
        var seen = Set<String>()
        for message in messages {
            let key = "\(message.symbol) \(message.seq)"
            verdict.redisReceived += 1
            if !seen.insert(key).inserted { verdict.redisRedelivered += 1 }
            if byKey[key] != "\(message.fields["close"] ?? "") \(message.fields["volume"] ?? "")" { verdict.redisWrong += 1 }
        }
        verdict.redisLost = byKey.keys.filter { !seen.contains($0) }.count
        return verdict
    }
}

/// The sum of a counter's series on tickd's metrics endpoint (-1 when it cannot be read).
func counterSum(_ name: String, metricsPort: Int) -> Int {
    guard let body = httpGet(port: metricsPort, path: "/metrics")?.body else { return -1 }
    return body.split(separator: "\n").filter { $0.hasPrefix("\(name){") || $0.hasPrefix("\(name) ") }
        .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0) { $0 + Int($1) }
}
