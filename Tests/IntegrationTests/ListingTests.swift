import Foundation
import Testing
import TestSupport

/// Instruments added to `stocks` while tickd runs are known within the reload interval.
@Suite(.ownThreads) struct ListingTests {
    @Test func aListingAddedWhileTickdRunsIsAcceptedWithoutARestart() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let config = try DaemonTests.configFile(db)
        let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url, "TICKD_SYMBOLS_RELOAD_INTERVAL_MS": "300",
                                                     "TICKD_JOURNAL_DIRECTORY": TickdProcess.temporaryPath("journal")])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let publisher = try LineSocket(port: port)
        #expect(publisher.send("time,symbol,price,volume,trade_id\n2026-01-05T07:00:00Z,NEWCO,10.00,100,1\n"))
        let deadLetters = db.config().deadLetterPath
        #expect(eventually(timeout: .seconds(20)) {
            ((try? String(contentsOfFile: deadLetters, encoding: .utf8)) ?? "").contains(#""reason":"unknown_symbol""#)
        }, "\(daemon.output)")

        // The backend lists NEWCO; without a restart, its next trade is stored.
        try db.sql.execute("INSERT INTO stocks (symbol, name, sector) VALUES ('NEWCO', 'New Listing PLC', 'Banking')")
        let listed = ContinuousClock.now
        #expect(daemon.waitForLine(containing: "instruments: the listing changed") != nil, "\(daemon.output)")
        #expect(publisher.send("2026-01-05T07:00:01Z,NEWCO,10.05,200,2\n"))
        #expect(eventually(timeout: .seconds(20)) { (try? db.value("SELECT count(*) FROM market_ticks WHERE symbol = 'NEWCO'")) == "1" },
                "\(daemon.output)")
        print("listing: a trade of an instrument listed while tickd ran was stored \(String(format: "%.2f", (ContinuousClock.now - listed).seconds)) s after the listing")
        #expect(try db.value("SELECT trade_seq || ' ' || close FROM market_ticks WHERE symbol = 'NEWCO'") == "2 10.05")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")
    }
}
