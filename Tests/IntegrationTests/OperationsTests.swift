import Foundation
import LibPQ
import Testing
import TestSupport
import TickDaemon

/// systemd notify, /metrics, /readyz and logs of `tickd run`, against real servers.
@Suite(.ownThreads) struct OperationsTests {
    static var redisURL: String? { ProcessInfo.processInfo.environment["REDIS_URL"] }

    static func metricsPort(_ daemon: DaemonProcess) -> Int? {
        daemon.port(loggedWith: "metrics endpoint listening")
    }

    /// The value of one sample line of a Prometheus scrape (`name{labels} value`).
    static func sample(_ scrape: String, _ series: String) -> Double {
        for line in scrape.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? -1
        }
        return 0
    }

    @Test func notifySocketGetsReadyWatchdogAndStopping() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let notify = try NotifySocket()
        let daemon = try DaemonProcess(["run", "--config", try DaemonTests.configFile(db), "--listen", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url, "REDIS_URL": "",
                                                     "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        let ready = notify.wait(for: "READY=1", timeout: .seconds(60))
        #expect(ready.last?.contains("READY=1") == true, "\(ready) \(daemon.output)")
        let pings = notify.wait(for: "WATCHDOG=1", timeout: .seconds(10))
        #expect(pings.last == "WATCHDOG=1")
        daemon.signal(SIGTERM)
        let stopping = notify.wait(for: "STOPPING=1", timeout: .seconds(20))
        #expect(stopping.last == "STOPPING=1", "\(stopping)")
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test func metricsCountersMoveByExactlyTheTicksSent() throws {
        let redisURL = try #require(Self.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let daemon = try DaemonProcess(["run", "--config", try DaemonTests.configFile(db), "--listen", "127.0.0.1:0",
                                        "--metrics", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url, "REDIS_URL": redisURL])
        let feedPort = try #require(daemon.listeningPort(), "\(daemon.output)")
        let port = try #require(Self.metricsPort(daemon), "\(daemon.output)")
        let before = try #require(httpGet(port: port, path: "/metrics")).body
        let source = "{source=\"tcp://127.0.0.1:0\"}"
        let good = 137, bad = 5
        var text = "time,symbol,price,volume,trade_id\n"
        for i in 0..<good { text += DaemonTests.line(i, symbol: "EQTY") + "\n" }
        for i in 0..<bad { text += DaemonTests.line(500 + i, symbol: "NOPE") + "\n" }
        let socket = try LineSocket(port: feedPort)
        socket.send(text)
        socket.closeWrite()
        var after = ""
        #expect(eventually {
            after = httpGet(port: port, path: "/metrics")?.body ?? ""
            return Self.sample(after, "tickd_rows_inserted_total") - Self.sample(before, "tickd_rows_inserted_total") == Double(good)
                && Self.sample(after, "tickd_redis_published_total") - Self.sample(before, "tickd_redis_published_total") == Double(good)
        }, "\(after)")
        #expect(Self.sample(after, "tickd_ticks_received_total\(source)") - Self.sample(before, "tickd_ticks_received_total\(source)")
                == Double(good + bad))
        #expect(Self.sample(after, "tickd_ticks_rejected_total{reason=\"unknown_symbol\"}")
                - Self.sample(before, "tickd_ticks_rejected_total{reason=\"unknown_symbol\"}") == Double(bad))
        #expect(Self.sample(after, "tickd_database_up") == 1)
        #expect(after.contains("tickd_batch_duration_seconds_bucket"))
        #expect(httpGet(port: port, path: "/healthz")?.status == 200)
        #expect(httpGet(port: port, path: "/readyz")?.status == 200)
        #expect(httpGet(port: port, path: "/nope")?.status == 404)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test func readyzFollowsThePostgreSQLServerDownAndBackUp() throws {
        let postgres = try PrivatePostgres()
        var config = TickdConfig()
        config.databaseURL = postgres.url
        config.instrumentsFile = TickdProcess.repositoryRoot.appendingPathComponent("Seeds/stocks.csv").path
        _ = try DatabaseCommands.migrate(config: config)
        _ = try DatabaseCommands.seed(config: config, file: nil)
        let daemon = try DaemonProcess(["run", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": postgres.url, "REDIS_URL": "",
                                                     "TICKD_DEAD_LETTER_PATH": TickdProcess.temporaryPath("dl.jsonl")])
        let port = try #require(Self.metricsPort(daemon), "\(daemon.output)")
        #expect(eventually { httpGet(port: port, path: "/readyz")?.status == 200 }, "\(daemon.output)")
        postgres.stop()
        var body = ""
        #expect(eventually(timeout: .seconds(20)) {
            guard let reply = httpGet(port: port, path: "/readyz") else { return false }
            body = reply.body
            return reply.status == 503
        })
        #expect(body.contains("database unreachable"), "\(body)")
        #expect(httpGet(port: port, path: "/healthz")?.status == 200)       // alive all the same
        try postgres.start()
        #expect(eventually(timeout: .seconds(20)) { httpGet(port: port, path: "/readyz")?.status == 200 }, "\(daemon.output)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")
    }

    @Test func noPasswordFromTheURLsAppearsInAnyLogLine() throws {
        let redisURL = try #require(Self.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let secrets = ["tickd-dev-secret", "tickd-dev-redis-secret"]
        #expect(secrets.allSatisfy { db.url.contains($0) || redisURL.contains($0) })
        // A normal run, with JSON logs, a publisher, rejects and a shutdown…
        let daemon = try DaemonProcess(["run", "--config", try DaemonTests.configFile(db), "--listen", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url, "REDIS_URL": redisURL, "TICKD_LOG_FORMAT": "json",
                                                     "TICKD_LOG_LEVEL": "debug"])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let socket = try LineSocket(port: port)
        socket.send("time,symbol,price,volume\n" + DaemonTests.line(1, symbol: "SCOM") + "\nbad line\n")
        socket.closeWrite()
        #expect(daemon.waitForLine(containing: "publisher disconnected") != nil)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0)
        let lines = daemon.output.split(separator: "\n")
        #expect(lines.count > 5)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line)")
        }
        // …and failures: a refused Redis login, a refused database login, check-config.
        let wrongRedis = redisURL.replacingOccurrences(of: "tickd-dev-redis-secret", with: "wrong-redis-secret")
        let replay = try TickdProcess.run(["replay", "Seeds/feeds/nse-2026-01-05.trades.csv", "--dead-letter", "/dev/null",
                                           "--config", try DaemonTests.configFile(db)],
                                          environment: ["DATABASE_URL": db.url, "REDIS_URL": wrongRedis])
        let wrongDB = db.url.replacingOccurrences(of: "tickd-dev-secret", with: "wrong-db-secret")
        let refused = try TickdProcess.run(["migrate"], environment: ["DATABASE_URL": wrongDB])
        #expect(refused.status == 1)
        let check = try TickdProcess.run(["check-config"], environment: ["DATABASE_URL": db.url, "REDIS_URL": redisURL])
        let everything = daemon.output + replay.stdout + replay.stderr + refused.stderr + check.stdout + check.stderr
        for secret in secrets + ["wrong-redis-secret", "wrong-db-secret"] {
            #expect(!everything.contains(secret), "\(secret) was logged")
        }
        #expect(replay.stderr.contains("WRONGPASS") || replay.stderr.contains("AUTH"), "\(replay.stderr)")
    }
}
