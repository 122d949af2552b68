import Foundation
import LibPQ
import Testing
import TestSupport
import TickSinks

/// Permanent connection errors end the one-shot commands and a starting daemon fast, with the
/// server's reason and no secret; transient ones are retried (OutageTests). A private server
/// with a password role and a pg_hba.conf of the test's own.
@Suite(.ownThreads) struct ConnectionFailureTests {
    static let password = "right-secret-4711"

    /// A server where `feed` has a password, `stranger` has no pg_hba.conf entry and `ghost`
    /// (trusted by pg_hba.conf) is no role at all.
    static func server() throws -> PrivatePostgres {
        let server = try PrivatePostgres()
        let admin = try Connection(conninfo: server.url)
        try admin.execute("CREATE ROLE feed LOGIN PASSWORD '\(password)'; CREATE ROLE stranger LOGIN PASSWORD 'x'")
        try admin.execute("CREATE DATABASE feeddb OWNER feed")
        try """
            local all all trust
            host all postgres 127.0.0.1/32 trust
            host all feed 127.0.0.1/32 scram-sha-256
            host all ghost 127.0.0.1/32 trust

            """.write(toFile: "\(server.directory)/data/pg_hba.conf", atomically: true, encoding: .utf8)
        try admin.execute("SELECT pg_reload_conf()")
        return server
    }

    @Test func permanentConnectionErrorsExitOneFastWithTheServersReason() throws {
        let server = try Self.server()
        let host = "127.0.0.1:\(server.port)"
        let cases: [(name: String, url: String, reason: String)] = [
            ("wrong password", "postgresql://feed:wrong-secret-0815@\(host)/feeddb", "SQLSTATE 28P01: connection to server at \"127.0.0.1\", port \(server.port) failed: FATAL:  password authentication failed for user \"feed\""),
            ("unknown database", "postgresql://feed:\(Self.password)@\(host)/nodb", "SQLSTATE 3D000: connection to server at \"127.0.0.1\", port \(server.port) failed: FATAL:  database \"nodb\" does not exist"),
            ("unknown role", "postgresql://ghost@\(host)/feeddb", "SQLSTATE 28000: connection to server at \"127.0.0.1\", port \(server.port) failed: FATAL:  role \"ghost\" does not exist"),
            ("no pg_hba.conf entry", "postgresql://stranger:x@\(host)/feeddb", "SQLSTATE 28000: connection to server at \"127.0.0.1\", port \(server.port) failed: FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"stranger\""),
            ("TLS refused with sslmode=require", "postgresql://feed:\(Self.password)@\(host)/feeddb?sslmode=require", "SQLSTATE 08004: connection to server at \"127.0.0.1\", port \(server.port) failed: server does not support SSL, but SSL was required"),
        ]
        let commands: [[String]] = [["migrate"], ["seed"], ["replay", "Seeds/feeds/nse-2026-01-05.trades.csv"],
                                    ["run", "--listen", "127.0.0.1:0"]]
        for (name, url, reason) in cases {
            for command in commands {
                let started = ContinuousClock.now
                let run = try TickdProcess.run(command, environment: ["DATABASE_URL": url, "TICKD_DEAD_LETTER_PATH": "/dev/null",
                                                                      "TICKD_JOURNAL_DIRECTORY": TickdProcess.temporaryPath("journal")])
                let seconds = (ContinuousClock.now - started).seconds
                let last = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
                #expect(run.status == 1, "\(name), tickd \(command[0]): \(run.stderr)")
                // Fast means no retry at all (a retried permanent error would back off for ever); the
                // bound is loose for a loaded machine: alone a run takes 0.2 s, beside the whole
                // suite on two cores up to 16.5 s was seen.
                #expect(!run.stderr.contains("retrying"), "\(name), tickd \(command[0]) retried: \(run.stderr)")
                #expect(seconds < 30, "\(name), tickd \(command[0]) took \(seconds) s")
                #expect(last.hasPrefix("tickd: could not connect to PostgreSQL: \(reason)"), "\(name), tickd \(command[0]): \(last)")
                #expect(!run.stderr.contains("wrong-secret-0815") && !run.stderr.contains(Self.password), "\(name): a password was printed")
                if command == ["replay", "Seeds/feeds/nse-2026-01-05.trades.csv"] {
                    print("connection error \(name): tickd replay exited \(run.status) in \(String(format: "%.2f", seconds)) s: \(last)")
                }
            }
        }
    }

    /// A sink waiting out a retry's backoff gives up when its task is cancelled (a stopping
    /// tickd), with the last error, instead of retrying on: nothing listens on port 1, and the
    /// backoff may grow to ten minutes.
    @Test(.timeLimit(.minutes(1))) func aRetryGivesUpWithTheLastErrorWhenItsTaskIsCancelled() async throws {
        let logs = LogCapture()
        let connecting = Task {
            let sink = PostgresSink(conninfo: "host=127.0.0.1 port=1 connect_timeout=2", options: SchemaOptions(),
                                    maxBackoff: .seconds(600), logger: logs.logger("test"))
            try await sink.connect()
        }
        // Until it failed and waits to retry.
        while !logs.records.contains(where: { $0.message == "database error, retrying" }) { try await Task.sleep(for: .milliseconds(10)) }
        connecting.cancel()
        let outcome = await connecting.result
        #expect(throws: SinkError.self) { try outcome.get() }
        if case .failure(let error) = outcome {
            #expect("\(error)".contains("Connection refused"), "\(error)")
        }
    }

    @Test func aPasswordRotatedUnderARunningDaemonIsRetriedUntilItIsRight() throws {
        let server = try Self.server()
        let url = "postgresql://feed:\(Self.password)@127.0.0.1:\(server.port)/feeddb"
        let environment = ["DATABASE_URL": url, "TICKD_DEAD_LETTER_PATH": "/dev/null", "TICKD_REDIS_PREFIX": "rotation-\(server.port):",
                           "TICKD_EXCHANGE_PROFILE": "plain",   // ReferenceFeed prices jump around
                           "TICKD_JOURNAL_DIRECTORY": TickdProcess.temporaryPath("journal"), "TICKD_DATABASE_RETRY_MAX_BACKOFF_MS": "500"]
        for command in [["migrate"], ["seed"]] { #expect(try TickdProcess.run(command, environment: environment).status == 0) }
        let admin = try Connection(conninfo: server.url.replacingOccurrences(of: "/postgres?", with: "/feeddb?"))
        let stored = { (try? admin.execute("SELECT count(*) FROM market_ticks").value(row: 0, column: 0)) ?? nil }
        let daemon = try DaemonProcess(["run", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"], environment: environment)
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let metrics = try #require(daemon.port(loggedWith: "metrics endpoint"))
        let feed = ReferenceFeed(count: 200)
        let publisher = try LineSocket(port: port)
        #expect(publisher.send(ReferenceFeed.header + feed.lines(0..<100)))
        #expect(eventually { stored() == "100" }, "\(daemon.output)")

        // The password changes and tickd's sessions end: it must keep trying, say so, and not be ready.
        try admin.execute("ALTER ROLE feed PASSWORD 'rotated-secret'")
        try admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'feed'")
        #expect(publisher.send(feed.lines(100..<200)))
        #expect(daemon.waitForLine(containing: "database refuses the connection") != nil, "\(daemon.output)")
        #expect(eventually(timeout: .seconds(10)) { httpGet(port: metrics, path: "/readyz")?.status == 503 })
        #expect(daemon.waitForExit(timeout: .seconds(2)) == nil, "tickd must keep running: \(daemon.output)")

        // The operator puts the secret right: tickd reconnects and stores what it held.
        try admin.execute("ALTER ROLE feed PASSWORD '\(Self.password)'")
        #expect(eventually { stored() == "200" }, "\(daemon.output)")
        #expect(eventually(timeout: .seconds(10)) { httpGet(port: metrics, path: "/readyz")?.status == 200 })
        let refusals = daemon.output.components(separatedBy: "database refuses the connection").count - 1
        print("password rotated under tickd run: \(refusals) refused reconnects logged, then all 200 ticks stored once the password was back")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")
        #expect(!daemon.output.contains(Self.password))
    }
}
