import Foundation
import Testing
import TestSupport

/// Exit codes and messages of SPEC.md: 0 success, 1 runtime failure, 2 bad usage or configuration
/// with a one-line reason.
@Suite(.ownThreads) struct CommandLineTests {
    static func writeConfig(_ yaml: String) throws -> String {
        let path = TickdProcess.temporaryPath("tickd.yaml")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(arguments: [
        ("input:\n  max_line_byte: 10\n", "input.max_line_byte: unknown key"),
        ("input:\n  max_line_bytes: ten\n", "input.max_line_bytes: must be a whole number"),
        ("input:\n  csv:\n    delimiter: \"#\"\n", "input.csv.delimiter: must be one of"),
        ("symbols:\n  unknown: maybe\n", "symbols.unknown: must be one of reject, accept"),
        ("exchange:\n  timezone: Africa/Atlantis\n", "exchange.timezone:"),
        ("input: [1, 2\n", "config: not valid YAML"),
        ("input:\n  csv:\n    columns: [time, colour]\n", "input.csv.columns: 'colour' is not a field"),
        ("database:\n  ticks_table: \"ticks; DROP TABLE stocks\"\n", "database.ticks_table: 'ticks; DROP TABLE stocks' is not a table name"),
        ("timescale:\n  enabled: maybe\n", "timescale.enabled: must be one of auto, on, off"),
        ("batch:\n  max_ticks: 0\n", "batch.max_ticks: must be a whole number from 1"),
    ])
    func badConfigExitsTwoWithOneLineNamingTheKey(yaml: String, message: String) throws {
        let path = try Self.writeConfig(yaml)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for arguments in [["check-config", "--config", path],
                          ["replay", "Seeds/feeds/nse-2026-01-05.trades.csv", "--dry-run", "--config", path]] {
            let run = try TickdProcess.run(arguments)
            #expect(run.status == 2)
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(run.stderr)")
            #expect(run.stderr.contains(message), "\(run.stderr)")
        }
    }

    @Test func configFromTICKD_CONFIGIsRead() throws {
        let path = try Self.writeConfig("input:\n  max_line_bytes: 128\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try TickdProcess.run(["check-config"], environment: ["TICKD_CONFIG": path])
        #expect(run.status == 0)
        #expect(run.stdout.contains("max_line_bytes: 128"))
        let missing = try TickdProcess.run(["check-config"], environment: ["TICKD_CONFIG": "/nonexistent.yaml"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("TICKD_CONFIG"))
    }

    @Test func checkConfigRedactsPasswords() throws {
        let run = try TickdProcess.run(["check-config"], environment: [
            "DATABASE_URL": "postgresql://tickd:s3cr3t-pg@db:5432/tickd?sslmode=require",
            "REDIS_URL": "redis://app:s3cr3t-redis@cache:6379/0"])
        #expect(run.status == 0)
        #expect(!run.stdout.contains("s3cr3t"))
        #expect(run.stdout.contains("postgresql://tickd:***@db:5432/tickd?sslmode=require"))
        #expect(run.stdout.contains("redis://app:***@cache:6379/0"))
        let keyValue = try TickdProcess.run(["check-config"], environment: ["DATABASE_URL": "host=db password='a b' user=x"])
        #expect(!keyValue.stdout.contains("a b"))
        #expect(keyValue.stdout.contains("password=*** user=x"))
    }

    @Test func metricsOnAPublicAddressNeedsAllowPublic() throws {
        let run = try TickdProcess.run(["run", "--listen", "127.0.0.1:0", "--metrics", "0.0.0.0:9464"],
                                       environment: ["DATABASE_URL": "postgresql://nowhere.invalid/x"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("metrics.address: '0.0.0.0:9464' is not a loopback address"), "\(run.stderr)")
    }

    @Test(arguments: [
        (["run"], "sources: nothing to read"),
        (["run", "--listen", "localhost"], "--listen: 'localhost' is not HOST:PORT"),
        (["run", "--connect", "127.0.0.1:0"], "--connect: '127.0.0.1:0' has no valid port"),
        (["run", "--kafka-brokers", "k:9092", "--kafka-group", "g"], "--kafka-topic: is required with --kafka-brokers"),
        (["run", "--kafka-brokers", "k:9092", "--kafka-topic", "t"], "--kafka-group: is required with --kafka-brokers"),
        (["run", "--kafka-topic", "t", "--kafka-group", "g"], "--kafka-brokers: is required"),
        (["replay", "x.csv", "--dry-run", "--speed", "fast"], "--speed must be max, realtime or Nx"),
        (["replay", "x.csv", "--dry-run", "--from", "yesterday"], "--from: 'yesterday' is not a time"),
        (["replay", "x.csv", "--dry-run", "--symbols", ","], "--symbols"),
    ])
    func badRunAndReplayArgumentsExitTwo(arguments: [String], message: String) throws {
        let run = try TickdProcess.run(arguments, environment: ["DATABASE_URL": "postgresql://nowhere.invalid/x"])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
    }

    @Test func badUsageExitsTwo() throws {
        let unknownFlag = try TickdProcess.run(["replay", "--bogus"])
        #expect(unknownFlag.status == 2)
        let badFormat = try TickdProcess.run(["replay", "x.csv", "--dry-run", "--format", "xml"])
        #expect(badFormat.status == 2)
        #expect(badFormat.stderr.contains("--format"))
        let help = try TickdProcess.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("replay"))
    }

    @Test func missingFeedFileIsARuntimeFailure() throws {
        let run = try TickdProcess.run(["replay", "/nonexistent/feed.csv", "--dry-run", "--dead-letter", TickdProcess.temporaryPath("d")])
        #expect(run.status == 1)
        #expect(run.stderr.contains("/nonexistent/feed.csv"))
    }
}
