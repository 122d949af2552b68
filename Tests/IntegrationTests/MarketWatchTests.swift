import Foundation
import Testing
import TestSupport

/// The session watch of `tickd run`, with a profile whose session is always open (so the test
/// does not depend on the hour it runs at) and New Year's Day 2026 as its one holiday.
@Suite(.ownThreads) struct MarketWatchTests {
    @Test func outsideSessionTicksAreCountedAndASilentFeedAndAStaleInstrumentAreShown() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let profile = TickdProcess.temporaryPath("always-open.yaml")
        try """
            name: always-open
            closing_price: last_trade
            session: { days: [mon, tue, wed, thu, fri, sat, sun], pre_open: "00:00", open: "00:00", close: "24:00" }
            holidays: ["2026-01-01"]
            """.write(toFile: profile, atomically: true, encoding: .utf8)
        let config = try DaemonTests.configFile(db, exchange: "profile: \(profile)\n  stale_after_ms: 1500\n  feed_silent_after_ms: 1500")
        let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url, "REDIS_URL": ""])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let metrics = try #require(OperationsTests.metricsPort(daemon), "\(daemon.output)")
        let publisher = try LineSocket(port: port)
        // Two trades on the holiday (outside the session), one on a trading day.
        #expect(publisher.send("time,symbol,price,volume\n2026-01-01T10:00:00+03:00,SCOM,23.10,100\n2026-01-01T10:00:01+03:00,SCOM,23.15,100\n"
                               + "2026-01-05T10:00:00+03:00,KCB,35.40,100\n"))
        var scrape = ""
        #expect(eventually(timeout: .seconds(30)) {
            scrape = httpGet(port: metrics, path: "/metrics")?.body ?? ""
            return OperationsTests.sample(scrape, "tickd_ticks_outside_session_total{symbol=\"SCOM\"}") == 2
                && OperationsTests.sample(scrape, "tickd_symbol_stale{symbol=\"KCB\"}") == 1
        }, "\(scrape)")
        #expect(OperationsTests.sample(scrape, "tickd_ticks_outside_session_total{symbol=\"KCB\"}") == 0)
        #expect(OperationsTests.sample(scrape, "tickd_symbol_last_trade_age_seconds{symbol=\"KCB\"}") > 86_400)
        // Nothing arrives for 1.5 s: still ready, but degraded.
        var ready: (status: Int, body: String)?
        #expect(eventually(timeout: .seconds(30)) {
            ready = httpGet(port: metrics, path: "/readyz")
            return ready?.body.contains("degraded: feed silent") == true
        }, "\(String(describing: ready))")
        #expect(ready?.status == 200)
        #expect(daemon.output.contains("instrument stale") && daemon.output.contains("symbol=KCB"))
        // A tick: the feed is no longer silent.
        #expect(publisher.send("2026-01-05T10:00:05+03:00,KCB,35.45,100\n"))
        #expect(eventually(timeout: .seconds(30)) { httpGet(port: metrics, path: "/readyz")?.body == "ready\n" })
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0)
    }
}
