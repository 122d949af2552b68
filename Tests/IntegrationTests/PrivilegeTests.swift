import Foundation
import LibPQ
import Testing
import TestSupport
import TickDaemon
import TickSinks

/// Least privilege, on a server of the test's own set up as the Stock Soko document says
/// (`CREATE USER stocksoko_app`, `GRANT ALL PRIVILEGES ON DATABASE`, TimescaleDB created by the
/// superuser where it is installed): migrate as the owner once it may create in `public`, then
/// seed, replay and run as a role that has exactly what `tickd grants` prints, no CREATE, no
/// superuser; and a missing privilege named with its GRANT.
@Suite(.ownThreads) struct PrivilegeTests {
    @Test func migrateAsTheOwnerAndRunAsARoleWithExactlyTheGrantedSet() async throws {
        let server = try PrivatePostgres(settings: PrivatePostgres.timescaleInstalled ? PrivatePostgres.preloadTimescale : "")
        let admin = try Connection(conninfo: server.url)
        try admin.execute("CREATE DATABASE stocksoko")
        try admin.execute("""
            CREATE USER stocksoko_app WITH PASSWORD 'secure_password';
            GRANT ALL PRIVILEGES ON DATABASE stocksoko TO stocksoko_app;
            CREATE USER tickd_ingest WITH PASSWORD 'ingest_password';
            """)
        let superuser = try Connection(conninfo: "postgresql://postgres@127.0.0.1:\(server.port)/stocksoko?sslmode=disable")
        if PrivatePostgres.timescaleInstalled { try superuser.execute("CREATE EXTENSION timescaledb") }
        func environment(_ role: String) -> [String: String] {
            ["DATABASE_URL": "postgresql://\(role)@127.0.0.1:\(server.port)/stocksoko?sslmode=disable",
             "TICKD_EXCHANGE_PROFILE": "plain", "TICKD_DEAD_LETTER_PATH": TickdProcess.temporaryPath("dead-letters.jsonl"),
             "TICKD_JOURNAL_DIRECTORY": TickdProcess.temporaryPath("journal")]
        }

        // PostgreSQL 15: nobody but the owner creates in public. The error says who lacks what, and the fix.
        let refused = try TickdProcess.run(["migrate"], environment: environment("stocksoko_app"))
        #expect(refused.status == 1)
        #expect(refused.stderr.split(separator: "\n").last == """
            tickd: role stocksoko_app lacks what tickd migrate needs: CREATE on SCHEMA public (tickd migrate runs as the owner of \
            tickd's tables; the timescaledb extension is created by a superuser); as the objects' owner or a superuser: \
            GRANT CREATE ON SCHEMA public TO stocksoko_app;
            """, "\(refused.stderr)")
        try superuser.execute("GRANT CREATE ON SCHEMA public TO stocksoko_app")
        let migrated = try TickdProcess.run(["migrate"], environment: environment("stocksoko_app"))
        #expect(migrated.status == 0, "\(migrated.stderr)")
        if PrivatePostgres.timescaleInstalled { #expect(migrated.stdout.contains("storage mode timescale"), "\(migrated.stdout)") }

        // The smaller set, as tickd grants prints it, applied by the owner.
        let grants = try TickdProcess.run(["grants", "tickd_ingest"], environment: environment("stocksoko_app"))
        #expect(grants.status == 0, "\(grants.stderr)")
        let owner = try Connection(conninfo: "postgresql://stocksoko_app@127.0.0.1:\(server.port)/stocksoko?sslmode=disable")
        for statement in grants.stdout.split(separator: "\n") where !statement.hasPrefix("GRANT TEMPORARY ON DATABASE") {
            try owner.execute(String(statement))
        }
        // The database's privileges are its owner's (postgres) to give.
        for statement in grants.stdout.split(separator: "\n") where statement.hasPrefix("GRANT TEMPORARY ON DATABASE") {
            try superuser.execute(String(statement))
        }
        let ingest = try Connection(conninfo: "postgresql://tickd_ingest@127.0.0.1:\(server.port)/stocksoko?sslmode=disable")
        #expect(try ingest.execute("""
            SELECT rolsuper OR rolcreaterole OR rolcreatedb, has_schema_privilege('public', 'CREATE'), has_database_privilege('stocksoko', 'CREATE')
            FROM pg_roles WHERE rolname = current_user
            """).rows == [["f", "f", "f"]])

        let seeded = try TickdProcess.run(["seed"], environment: environment("tickd_ingest"))
        #expect(seeded.status == 0, "\(seeded.stderr)")
        let replayed = try TickdProcess.run(["replay", "Seeds/feeds/nse-2026-01-05.trades.csv", "--report", "json"], environment: environment("tickd_ingest"))
        #expect(replayed.status == 0, "\(replayed.stderr)")
        #expect(replayed.stdout.contains(#""inserted":103991"#), "\(replayed.stdout)")
        #expect(try ingest.execute("SELECT count(*) FROM stocks WHERE latest_price IS NOT NULL AND updated_at IS NOT NULL").rows == [["20"]])
        if PrivatePostgres.timescaleInstalled {
            #expect(replayed.stderr.contains("this role does not own the candle aggregates"), "\(replayed.stderr)")
            // The candles still read right: real-time, from the ticks.
            #expect(try owner.execute("""
                SELECT count(*) FROM market_candles_1d c JOIN (SELECT symbol, sum(volume) AS volume FROM market_ticks GROUP BY symbol) t USING (symbol)
                WHERE c.volume = t.volume
                """).rows == [["20"]])
        }

        // tickd run takes a stream as that role too.
        let daemon = try DaemonProcess(["run", "--listen", "127.0.0.1:0"], environment: environment("tickd_ingest"))
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let publisher = try LineSocket(port: port)
        #expect(publisher.send("time,symbol,price,volume,trade_id\n2026-01-06T07:00:00Z,SCOM,23.30,100,900001\n"))
        #expect(eventually(timeout: .seconds(30)) {
            (try? ingest.execute("SELECT latest_price FROM stocks WHERE symbol = 'SCOM'").rows) == [["23.30"]]
        }, "\(daemon.output)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")

        // One privilege taken away: the error names the role, the privilege, the object and the GRANT.
        try owner.execute("REVOKE UPDATE ON stocks FROM tickd_ingest")
        let denied = try TickdProcess.run(["replay", "-"], environment: environment("tickd_ingest"),
                                          stdin: Data("time,symbol,price,volume,trade_id\n2026-01-07T07:00:00Z,KCB,35.50,100,900002\n".utf8))
        #expect(denied.status == 1)
        #expect(denied.stderr.split(separator: "\n").last == """
            tickd: role tickd_ingest lacks what tickd run needs: SELECT, UPDATE (latest_price, previous_close, updated_at) on \
            TABLE public.stocks; as the objects' owner or a superuser: \
            GRANT SELECT, UPDATE (latest_price, previous_close, updated_at) ON TABLE public.stocks TO tickd_ingest;
            """, "\(denied.stderr)")
    }
}
