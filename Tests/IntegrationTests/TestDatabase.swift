import Foundation
import LibPQ
import TickDaemon
import TickModel
import TickNormalisation

/// A private schema in the test PostgreSQL (DATABASE_URL from scripts/test.sh) for one test:
/// tickd's tables land there through `search_path`, so tests run in parallel without sharing rows.
/// `public` stays on the path after it, as on a default role's: TimescaleDB's functions live there.
final class TestDatabase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static var baseURL: String? { ProcessInfo.processInfo.environment["DATABASE_URL"] }

    let schema: String
    /// DATABASE_URL pointing at this schema.
    let url: String
    /// A connection of the test's own, for checks and sabotage.
    let sql: Connection

    init() throws {
        guard let base = Self.baseURL else { throw TestSetupError("DATABASE_URL is not set: run the tests with scripts/test.sh") }
        schema = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try Connection(conninfo: base)
        try admin.execute("CREATE SCHEMA \(schema)")
        url = base + (base.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)%2Cpublic"
        sql = try Connection(conninfo: url)
    }

    deinit {
        if let base = Self.baseURL, let admin = try? Connection(conninfo: base) {
            _ = try? admin.execute("DROP SCHEMA \(schema) CASCADE")
        }
    }

    /// A configuration for this schema: instruments from Seeds/, dead letters in a temp file,
    /// the `plain` exchange profile (tests' made-up prices break the NSE's limits and grid;
    /// `nse` sets the NSE's, for the tests of those rules).
    func config(nse: Bool = false, _ change: (inout TickdConfig) -> Void = { _ in }) -> TickdConfig {
        var config = TickdConfig()
        if !nse { config.exchangeProfile = Self.plain }
        config.databaseURL = url
        config.instrumentsFile = Self.repositoryRoot.appendingPathComponent("Seeds/stocks.csv").path
        config.deadLetterPath = FileManager.default.temporaryDirectory.appendingPathComponent("\(schema)-dead.jsonl").path
        config.batchMaxTicks = 1000
        // The tests share one Redis: streams of 100,000 entries a symbol for every test's prefix
        // would grow it by hundreds of megabytes over a run.
        config.redisStreamMaxLength = 1000
        // Each test's live candles under its own prefix, like its ticks.
        config.redisCandlePrefix = "\(schema):candles:"
        change(&config)
        return config
    }

    static let plain = try! ExchangeProfile.load("plain", key: "exchange.profile")

    /// Runs `tickd migrate` and `tickd seed` for this schema.
    func migrateAndSeed(_ config: TickdConfig? = nil) throws {
        let config = config ?? self.config()
        _ = try DatabaseCommands.migrate(config: config)
        _ = try DatabaseCommands.seed(config: config, file: nil)
    }

    /// Replays `lines` (a CSV or NDJSON feed) into this schema.
    @discardableResult
    func replay(_ lines: [String], config: TickdConfig? = nil) async throws -> IngestReport {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(schema)-\(UUID().uuidString).csv").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await replay(files: [path], config: config)
    }

    @discardableResult
    func replay(files: [String], config: TickdConfig? = nil) async throws -> IngestReport {
        let config = config ?? self.config()
        return try await ReplayRunner(config: config, request: ReplayRequest(files: files, dryRun: false)).run()
    }

    /// The rows of a query as text.
    func rows(_ query: String) throws -> [[String?]] { try sql.execute(query).rows }

    /// The first value of a query.
    func value(_ query: String) throws -> String? { try rows(query).first?.first ?? nil }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
