import Foundation
import Testing
import TestSupport
import TickDaemon
import TickModel
import TickNormalisation

/// `tickd run` as a process against the real PostgreSQL and Redis: TCP publishers, an upstream
/// feed, SIGTERM, limits, memory.
@Suite(.ownThreads) struct DaemonTests {
    static var redisURL: String? { ProcessInfo.processInfo.environment["REDIS_URL"] }
    static let symbols = ["SCOM", "EQTY", "KCB", "COOP", "EABL", "NCBA", "KPLC", "BAT"]

    /// A config file for one test: its Redis prefix, fast batches, plus `extra` YAML.
    /// A config file for `db`. The exchange profile is `plain`: the generated feeds of these
    /// tests jump between arbitrary prices (the NSE's rules have tests of their own).
    static func configFile(_ db: TestDatabase, _ extra: String = "", exchange: String = "profile: plain") throws -> String {
        let path = TickdProcess.temporaryPath("tickd.yaml")
        try """
            exchange:
              \(exchange)
            symbols:
              instruments_file: Seeds/stocks.csv
            dead_letter:
              path: \(db.config().deadLetterPath)
            batch:
              max_ticks: 500
              max_age_ms: 50
            redis:
              prefix: "\(db.schema):ticks:"
              candle_prefix: "\(db.schema):candles:"
              stream_max_len: 1000
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A CSV trade line with a unique trade_id.
    static func line(_ id: Int, symbol: String) -> String {
        let second = id % 21_600
        return String(format: "2026-01-05T%02d:%02d:%02d.%03dZ,%@,23.%02d,100,%d",
                      6 + second / 3600, second / 60 % 60, second % 60, id % 1000, symbol, id % 100, id)
    }

    @Test func concurrentPublishersArriveOnceInTheDatabaseAndOnRedis() throws {
        let redisURL = try #require(Self.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let subscriber = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
        let daemon = try DaemonProcess(["run", "--config", try Self.configFile(db), "--listen", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url, "REDIS_URL": redisURL])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let publishers = 4, perPublisher = 500
        DispatchQueue.concurrentPerform(iterations: publishers) { p in
            guard let socket = try? LineSocket(port: port) else { return }
            var text = "time,symbol,price,volume,trade_id\n"
            for i in 0..<perPublisher {
                let id = p * 100_000 + i
                text += Self.line(id, symbol: Self.symbols[(p + i) % Self.symbols.count]) + "\n"
            }
            socket.send(text)
        }
        let total = publishers * perPublisher
        #expect(eventually { (try? db.value("SELECT count(*) FROM market_ticks")) == String(total) }, "\(daemon.output)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")
        #expect(try db.value("SELECT count(DISTINCT (symbol, trade_seq)) FROM market_ticks") == String(total))
        let messages = try subscriber.finish()
        #expect(messages.count == total)
        for (symbol, list) in Dictionary(grouping: messages, by: \.symbol) {
            #expect(list.map(\.seq) == Array(1...Int64(list.count)), "\(symbol)")
        }
    }

    @Test func theUpstreamClientReconnectsToAFeedServerThatRestarts() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let header = "time,symbol,price,volume,trade_id"
        let first = [header] + (0..<100).map { Self.line($0, symbol: "SCOM") }
        let second = [header] + (100..<200).map { Self.line($0, symbol: "SCOM") }
        let feed = try FeedServerStub(sessions: [first, second])
        let config = try Self.configFile(db, """
            sources:
              connect:
                - address: "127.0.0.1:\(feed.port)"
                  subscribe: "SUBSCRIBE NSE"
                  retry_max_backoff_ms: 300
            """)
        let daemon = try DaemonProcess(["run", "--config", config], environment: ["DATABASE_URL": db.url, "REDIS_URL": ""])
        #expect(eventually { (try? db.value("SELECT count(*) FROM market_ticks")) == "100" }, "\(daemon.output)")
        feed.stop()                                      // the feed server goes away…
        #expect(daemon.waitForLine(containing: "upstream feed connection failed") != nil)
        try feed.start()                                 // …and comes back
        #expect(eventually { (try? db.value("SELECT count(*) FROM market_ticks")) == "200" }, "\(daemon.output)")
        #expect(feed.received.prefix(2) == ["SUBSCRIBE NSE", "SUBSCRIBE NSE"])
        #expect(daemon.output.contains("reconnecting to upstream feed"))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test func sigtermDuringAStreamLosesNothingReadAndExitsZeroWithinTheDrainTimeout() throws {
        let redisURL = try #require(Self.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let config = try Self.configFile(db, "shutdown:\n  drain_timeout_ms: 20000\n")
        let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url, "REDIS_URL": redisURL])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let socket = try LineSocket(port: port)
        let stop = NSLock()
        nonisolated(unsafe) var running = true
        let writer = Thread {
            socket.send("time,symbol,price,volume,trade_id\n")
            var id = 0
            while stop.withLock({ running }) {
                var chunk = ""
                for _ in 0..<200 { chunk += Self.line(id, symbol: Self.symbols[id % Self.symbols.count]) + "\n"; id += 1 }
                if !socket.send(chunk) { break }
            }
        }
        writer.start()
        #expect(eventually { ((try? db.value("SELECT count(*) FROM market_ticks")).flatMap { Int($0 ?? "0") } ?? 0) > 2000 })
        let signalled = ContinuousClock.now
        daemon.signal(SIGTERM)                            // mid-stream
        let status = daemon.waitForExit(timeout: .seconds(40))
        let took = ContinuousClock.now - signalled
        stop.withLock { running = false }
        #expect(status == 0, "\(daemon.output)")
        #expect(took < Duration.seconds(25))
        // What tickd read from the connection (its own count, logged when the connection closed)
        // is exactly what the database holds, and all of it was published.
        let line = try #require(daemon.output.split(separator: "\n").first { $0.contains("publisher disconnected") })
        let accepted = try #require(line.split(separator: " ").first { $0.hasPrefix("accepted=") }).dropFirst("accepted=".count)
        #expect(try db.value("SELECT count(*) FROM market_ticks") == String(accepted))
        let stopped = try #require(daemon.output.split(separator: "\n").first { $0.contains("ingest stopped") })
        #expect(stopped.contains("published=\(accepted)"), "\(stopped)")
    }

    @Test func limitsRefuseFloodsCloseIdlersRejectLongLinesWhileAGoodPublisherGoesOn() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let config = try Self.configFile(db, """
            sources:
              listen:
                - address: "127.0.0.1:0"
                  format: csv
                  max_connections: 6
                  max_connections_per_peer: 2
                  idle_timeout_ms: 1500
                  max_line_bytes: 200
            """)
        let daemon = try DaemonProcess(["run", "--config", config, "--metrics", "127.0.0.1:0"], environment: ["DATABASE_URL": db.url, "REDIS_URL": ""])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let metricsPort = try #require(OperationsTests.metricsPort(daemon), "\(daemon.output)")
        let good = try LineSocket(port: port, from: "127.0.0.1")
        good.send("time,symbol,price,volume,trade_id\n")
        // A flood from another peer: two get in (and go idle), the rest are turned away at once.
        let flood = (0..<8).compactMap { _ in try? LineSocket(port: port, from: "127.0.0.2") }
        // A third peer sends an over-long line, then a good one.
        let long = try LineSocket(port: port, from: "127.0.0.3")
        long.send("time,symbol,price,volume,trade_id\n" + Self.line(900_001, symbol: "KCB") + ",\(String(repeating: "x", count: 500))\n"
                  + Self.line(900_002, symbol: "KCB") + "\n")
        for i in 0..<40 {                                  // the good publisher keeps going meanwhile
            #expect(good.send(Self.line(i, symbol: "SCOM") + "\n"))
            usleep(25_000)
        }
        #expect(flood.filter { $0.peerCloses(within: .seconds(5)) }.count == 8)   // refused or idle-closed
        #expect(eventually { (try? db.value("SELECT count(*) FROM market_ticks WHERE symbol = 'SCOM'")) == "40" }, "\(daemon.output)")
        #expect(try db.value("SELECT count(*) FROM market_ticks WHERE symbol = 'KCB'") == "1")
        // Every refusal and idle close is counted; the log says it once per 10 s and kind.
        let metrics = httpGet(port: metricsPort, path: "/metrics")?.body ?? ""
        let listener = "listener=\"tcp://127.0.0.1:0\""
        #expect(OperationsTests.sample(metrics, "tickd_connections_refused_total{\(listener),reason=\"max_connections_per_peer\"}") == 6, "\(metrics)")
        #expect(OperationsTests.sample(metrics, "tickd_connections_idle_closed_total{\(listener)}") >= 2, "\(metrics)")
        let log = daemon.output
        #expect(log.components(separatedBy: "reason=max_connections_per_peer").count - 1 == 1, "\(log)")
        #expect(log.contains("connection closed by tickd") && log.contains("reason=\"idle: no complete line for 1.5 seconds\""), "\(log)")
        let deadLetters = try String(contentsOfFile: db.config().deadLetterPath, encoding: .utf8)
        #expect(deadLetters.contains("\"reason\":\"line_too_long\""))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test func memoryStaysUnderTheBudgetWhileTheDatabaseIsPausedAndAPublisherFloods() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let config = try Self.configFile(db, """
            pipeline:
              max_queued_ticks: 20000
            sources:
              listen:
                - address: "127.0.0.1:0"
                  max_connections: 4
            """)
        let application = "tickd-mem-\(db.schema)"
        let daemon = try DaemonProcess(["run", "--config", config],
                                       environment: ["DATABASE_URL": db.url + "&application_name=\(application)", "REDIS_URL": ""])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        var loaded = TickdConfig()
        try ConfigLoader.apply(yaml: try String(contentsOfFile: config, encoding: .utf8), to: &loaded)
        let budget = loaded.memoryBudgetBytes
        // Freeze tickd's database session: every commit now waits.
        let backend = try #require(try db.value("SELECT pid FROM pg_stat_activity WHERE application_name = '\(application)'").flatMap { Int32($0) })
        kill(backend, SIGSTOP)
        defer { kill(backend, SIGCONT) }
        let socket = try LineSocket(port: port, sendTimeout: .milliseconds(200))
        var block = "time,symbol,price,volume,trade_id\n"
        for i in 0..<5000 { block += Self.line(i, symbol: Self.symbols[i % Self.symbols.count]) + "\n" }
        let bytes = Array(block.utf8)
        var sent = 0, stalls = 0, maxResident = 0
        let until = ContinuousClock.now + .seconds(6)
        while ContinuousClock.now < until {
            let n = socket.sendSome(bytes)                  // as fast as the socket takes it
            sent += n
            if n < bytes.count { stalls += 1 }
            maxResident = max(maxResident, daemon.residentBytes ?? 0)
        }
        // TCP flow control pushed back (writes timed out) and memory stayed within the budget.
        #expect(stalls > 0)
        #expect(maxResident > 0 && maxResident < budget, "resident \(maxResident >> 20) MiB, budget \(budget >> 20) MiB")
        print("memory check: peak resident \(maxResident >> 20) MiB under a budget of \(budget >> 20) MiB; \(sent >> 20) MiB accepted by the socket in 6 s with the database paused")
        kill(backend, SIGCONT)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(60)) == 0, "\(daemon.output)")
    }
}

/// Paced replay: the order and the pace of the feed's own clock, not the wall time of the test.
@Suite(.ownThreads) struct PacedReplayTests {
    @Test func sixtyTimesATenMinuteRecordingKeepsOrderAndPace() async throws {
        var lines = ["time,symbol,price,volume"]
        for i in 0...120 {   // one tick every 5 s for 10 minutes
            lines.append("2026-01-05T06:\(String(format: "%02d", i * 5 / 60)):\(String(format: "%02d", i * 5 % 60))Z,SCOM,23.10,\(i + 1)")
        }
        let path = TickdProcess.temporaryPath("ten-minutes.csv")
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = TickdConfig()
        config.instrumentsFile = TickdProcess.repositoryRoot.appendingPathComponent("Seeds/stocks.csv").path
        let request = ReplayRequest(files: [path], dryRun: true, deadLetterPath: TickdProcess.temporaryPath("dl"), speed: .times(60))
        let collected = Collected<(wall: ContinuousClock.Instant, tick: Tick)>()
        let report = try await ReplayRunner(config: config, request: request).run { collected.append((.now, $0)) }
        let seen = collected.all
        #expect(report.accepted == 121)
        #expect(seen.map(\.tick.volume) == Array(1...121))                       // in order
        let start = try #require(seen.first)
        var early = 0
        for (wall, tick) in seen {
            let feed = Double(tick.time.nanosecondsSinceEpoch - start.tick.time.nanosecondsSinceEpoch) / 1e9
            let waited = (wall - start.wall).seconds
            if waited < feed / 60 - 0.005 { early += 1 }                          // never ahead of its time
        }
        #expect(early == 0)
        #expect((seen.last!.wall - start.wall).seconds >= 10 - 0.005)            // 600 s of feed / 60
    }
}
