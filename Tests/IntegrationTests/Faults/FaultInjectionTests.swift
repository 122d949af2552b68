import Foundation
import Testing
import TestSupport
import TickDaemon

/// Fault injection: tickd killed, PostgreSQL and Redis stopped and restarted, the journal's disk
/// filled — each case compares the database and a Redis subscriber with the reference list of
/// ticks sent. Pass is 0 lost, 0 duplicated. Loopback only; every wait is bounded.
@Suite(.serialized, .ownThreads) struct FaultInjectionTests {
    static func config(_ db: TestDatabase, prefix: String? = nil, _ extra: String = "") throws -> String {
        try DaemonTests.configFile(db, extra)
    }

    /// Batch settings under which no batch closes by itself: what tickd receives stays in its journal.
    static let batchesThatNeverClose = ["TICKD_BATCH_MAX_TICKS": "100000", "TICKD_BATCH_MAX_AGE_MS": "600000", "TICKD_BATCH_LINGER_MS": "-1"]

    static func report(_ name: String, _ verdict: FaultVerdict) {
        print("fault \(name): \(verdict) — \(verdict.passes ? "PASS" : "FAIL")")
    }

    @Test func killNineDuringAFileReplayTwentyTimesLosesAndDuplicatesNothing() throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let feed = ReferenceFeed(count: 200_000)
        let path = TickdProcess.temporaryPath("faults.csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try feed.writeFile(path)
        let config = try Self.config(db, "journal:\n  enabled: false\n")
        let subscriber = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
        var rng = SystemRandomNumberGenerator()
        var killed = 0
        for _ in 0..<20 {
            let run = try DaemonProcess(["replay", path, "--config", config], environment: ["DATABASE_URL": db.url, "REDIS_URL": redisURL])
            usleep(UInt32.random(in: 100_000...400_000, using: &rng))
            if run.process.isRunning { killed += 1 }
            run.signal(SIGKILL)
            _ = run.waitForExit(timeout: .seconds(30))
        }
        let last = try TickdProcess.run(["replay", path, "--config", config, "--report", "json"],
                                        environment: ["DATABASE_URL": db.url, "REDIS_URL": redisURL])
        #expect(last.status == 0, "\(last.stderr)")
        let verdict = try FaultVerdict.check(db, sent: feed.count, messages: try subscriber.finish())
        Self.report("kill -9 during replay (\(killed) of 20 kills mid-run)", verdict)
        #expect(killed >= 10, "most kills must land while the replay runs")
        #expect(verdict.passes, "\(verdict)")
    }

    @Test func killNineDuringATCPStreamIsRecoveredFromTheJournal() throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let feed = ReferenceFeed(count: 10_000)
        let journal = TickdProcess.temporaryPath("journal")
        // Batches that do not close by themselves: what tickd received is only in its journal.
        let config = try Self.config(db, "batch:\n  max_ticks: 100000\n  max_age_ms: 600000\n")
        let environment = ["DATABASE_URL": db.url, "REDIS_URL": redisURL, "TICKD_JOURNAL_DIRECTORY": journal]
            .merging(Self.batchesThatNeverClose) { $1 }
        let subscriber = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
        do {
            let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"],
                                           environment: environment)
            let port = try #require(daemon.listeningPort())
            let metrics = try #require(daemon.port(loggedWith: "metrics endpoint"))
            let publisher = try LineSocket(port: port)
            #expect(publisher.send(ReferenceFeed.header + feed.lines(0..<6000)))
            #expect(eventually(timeout: .seconds(60)) { counterSum("tickd_journal_ticks_total", metricsPort: metrics) == 6000 })
            #expect(try db.value("SELECT count(*) FROM market_ticks") == "0", "nothing committed yet: only the journal has them")
            daemon.signal(SIGKILL)
            _ = daemon.waitForExit(timeout: .seconds(30))
            let files = (try? FileManager.default.contentsOfDirectory(atPath: journal)) ?? []
        }
        let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"], environment: environment)
        let port = try #require(daemon.listeningPort())
        #expect(daemon.waitForLine(containing: "journal: applied the records the database had not seen") != nil, "\(daemon.output)")
        #expect(try db.value("SELECT count(*) FROM market_ticks") == "6000")
        let publisher = try LineSocket(port: port)
        #expect(publisher.send(ReferenceFeed.header + feed.lines(6000..<feed.count)))
        publisher.closeWrite()
        #expect(daemon.waitForLine(containing: "publisher disconnected") != nil)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(60)) == 0)
        let verdict = try FaultVerdict.check(db, sent: feed.count, messages: try subscriber.finish())
        Self.report("kill -9 during a TCP stream", verdict)
        #expect(verdict.passes, "\(verdict)")
    }

    /// A power loss takes the journal's unsynced tail (`fsync: interval`) while the database
    /// already holds those records: the next run must not number its new records as if applied.
    @Test func aJournalThatLostItsUnsyncedTailReusesNoAppliedNumber() throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let feed = ReferenceFeed(count: 6000)
        let journal = TickdProcess.temporaryPath("journal")
        defer { try? FileManager.default.removeItem(atPath: journal) }
        let config = try Self.config(db)
        let environment = ["DATABASE_URL": db.url, "REDIS_URL": redisURL, "TICKD_JOURNAL_DIRECTORY": journal]
        let subscriber = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
        // Run 1 stores 3000 ticks; the database records the journal as applied up to its end.
        do {
            let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"], environment: environment)
            let publisher = try LineSocket(port: try #require(daemon.listeningPort()))
            #expect(publisher.send(ReferenceFeed.header + feed.lines(0..<3000)))
            #expect(eventually(timeout: .seconds(60)) { (try? db.value("SELECT count(*) FROM market_ticks")) == "3000" })
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: .seconds(60)) == 0)
        }
        let applied = try #require(try db.value("SELECT applied FROM tickd_positions WHERE stream = 'journal'").flatMap { Int($0) })
        #expect(applied > 0)
        // The power loss: the active segment lost everything after its last fsync (here, all of it).
        let segments = try FileManager.default.contentsOfDirectory(atPath: journal).filter { $0.hasSuffix(".seg") }.sorted()
        #expect(truncate("\(journal)/\(try #require(segments.last))", 0) == 0)
        // Run 2 journals 3000 new ticks, commits none (batches that do not close) and is killed.
        do {
            let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"],
                                           environment: environment.merging(Self.batchesThatNeverClose) { $1 })
            let port = try #require(daemon.listeningPort())
            let metrics = try #require(daemon.port(loggedWith: "metrics endpoint"))
            #expect(daemon.waitForLine(containing: "the position restarts at its end") != nil, "\(daemon.output)")
            let publisher = try LineSocket(port: port)
            #expect(publisher.send(ReferenceFeed.header + feed.lines(3000..<6000)))
            #expect(eventually(timeout: .seconds(60)) { counterSum("tickd_journal_ticks_total", metricsPort: metrics) == 3000 })
            #expect(try db.value("SELECT count(*) FROM market_ticks") == "3000", "run 2's ticks are only in its journal")
            daemon.signal(SIGKILL)
            _ = daemon.waitForExit(timeout: .seconds(30))
        }
        // Run 3 applies every record of run 2 from the journal.
        let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"], environment: environment)
        _ = try #require(daemon.listeningPort())
        #expect(daemon.waitForLine(containing: "journal: applied the records the database had not seen") != nil, "\(daemon.output)")
        #expect(eventually(timeout: .seconds(60)) { (try? db.value("SELECT count(*) FROM market_ticks")) == "6000" })
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(60)) == 0)
        let verdict = try FaultVerdict.check(db, sent: feed.count, messages: try subscriber.finish())
        Self.report("a journal that lost its unsynced tail", verdict)
        #expect(verdict.passes, "\(verdict)")
    }
}
