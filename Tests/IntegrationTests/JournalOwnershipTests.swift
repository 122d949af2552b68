import Foundation
import Testing
import TestSupport
import TickDaemon

/// A journal belongs to one database: pointed at another, `tickd run` refuses to start and writes
/// nothing; pointed at a restored backup of its own, it applies the records that copy lacks.
@Suite(.ownThreads) struct JournalOwnershipTests {
    @Test func aJournalIsAppliedToItsOwnDatabaseOrARestoredCopyAndNeverToAnother() throws {
        let a = try TestDatabase(), b = try TestDatabase(), restored = try TestDatabase()
        for db in [a, b, restored] { try db.migrateAndSeed() }
        let idA = try #require(try a.value("SELECT id::text FROM tickd_database"))
        let idB = try #require(try b.value("SELECT id::text FROM tickd_database"))
        #expect(idA != idB)
        // A backup of database a, restored before any tick arrived: the same identity.
        try restored.sql.execute("UPDATE tickd_database SET id = '\(idA)'")
        let feed = ReferenceFeed(count: 3000)
        let journal = TickdProcess.temporaryPath("journal")
        defer { try? FileManager.default.removeItem(atPath: journal) }
        let config = try DaemonTests.configFile(a)
        func environment(_ db: TestDatabase) -> [String: String] {
            ["DATABASE_URL": db.url, "TICKD_JOURNAL_DIRECTORY": journal].merging(FaultInjectionTests.batchesThatNeverClose) { $1 }
        }

        // Database a: 3000 ticks received, none committed, then kill -9: they are in the journal only.
        do {
            let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"],
                                           environment: environment(a))
            let port = try #require(daemon.listeningPort(), "\(daemon.output)")
            let metrics = try #require(daemon.port(loggedWith: "metrics endpoint"))
            #expect(try LineSocket(port: port).send(ReferenceFeed.header + feed.lines(0..<feed.count)))
            // Received is counted before the append: wait for the journal itself to hold them all.
            #expect(eventually(timeout: .seconds(60)) { counterSum("tickd_journal_ticks_total", metricsPort: metrics) == feed.count })
            daemon.signal(SIGKILL)
            _ = daemon.waitForExit(timeout: .seconds(30))
        }
        #expect(try a.value("SELECT count(*) FROM market_ticks") == "0")

        // Database b: refused at once, one line naming the journal and both identities, nothing written.
        let started = ContinuousClock.now
        let refused = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"], environment: environment(b))
        #expect(refused.waitForExit(timeout: .seconds(30)) == 1, "\(refused.output)")
        let seconds = (ContinuousClock.now - started).seconds
        let last = refused.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("tickd: journal \(journal)") && last.contains(idA) && last.contains(idB) && last.contains("tickd journal discard"),
                "\(refused.output)")
        #expect(try b.value("SELECT count(*) FROM market_ticks") == "0")
        #expect(try b.value("SELECT count(*) FROM tickd_positions") == "0")
        print("journal of another database: refused in \(String(format: "%.2f", seconds)) s: \(last)")

        // `tickd journal show` names its database and records.
        let shown = try TickdProcess.run(["journal", "show", "--directory", journal])
        #expect(shown.status == 0 && shown.stdout.contains("database: \(idA)") && shown.stdout.contains("records: 1-"), "\(shown.stdout)\(shown.stderr)")

        // The restored copy of a: the journal's records go in.
        do {
            let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"], environment: environment(restored))
            #expect(daemon.waitForLine(containing: "journal: applied the records the database had not seen") != nil, "\(daemon.output)")
            #expect(eventually { (try? restored.value("SELECT count(*) FROM market_ticks")) == String(feed.count) })
            #expect(daemon.listeningPort() != nil, "\(daemon.output)")
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: .seconds(60)) == 0, "\(daemon.output)")
        }

        // Discarded, the journal starts afresh and b may use the directory.
        let discarded = try TickdProcess.run(["journal", "discard", "--directory", journal])
        #expect(discarded.status == 0 && discarded.stdout.contains("discarded"), "\(discarded.stdout)\(discarded.stderr)")
        let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"], environment: environment(b))
        #expect(daemon.waitForLine(containing: "journal: bound to this database") != nil, "\(daemon.output)")
        #expect(daemon.listeningPort() != nil, "\(daemon.output)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(60)) == 0, "\(daemon.output)")
        #expect(try b.value("SELECT count(*) FROM market_ticks") == "0")
    }
}
