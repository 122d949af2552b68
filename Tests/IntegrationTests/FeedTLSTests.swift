import Foundation
import Testing
import TestSupport

/// TLS on a feed listener, against `tickd run` and Debian's `openssl s_client`: what an honest
/// publisher with a certificate stores, what every hostile peer gets in (nothing), the handshake
/// timeout, and a certificate rotated with SIGHUP.
@Suite(.ownThreads) struct FeedTLSTests {
    static let header = "time,symbol,price,volume,trade_id\n"

    static func lines(_ ids: Range<Int>) -> String {
        ids.map { DaemonTests.line($0, symbol: "SCOM") + "\n" }.joined()
    }

    @Test func onlyPublishersWithACertificateOfTheCAGetTicksIn() throws {
        let certs = try TestCertificates()
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let config = try DaemonTests.configFile(db, """
            sources:
              listen:
                - address: "127.0.0.1:0"
                  max_connections: 2
                  tls:
                    cert_file: \(certs.serverCert)
                    key_file: \(certs.serverKey)
                    client_ca_file: \(certs.caFile)
                    handshake_timeout_ms: 500
            """)
        let daemon = try DaemonProcess(["run", "--config", config, "--metrics", "127.0.0.1:0"], environment: ["DATABASE_URL": db.url, "REDIS_URL": ""])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let metrics = try #require(daemon.port(loggedWith: "metrics endpoint"))
        func stored() -> String { (try? db.value("SELECT count(*) FROM market_ticks")) ?? "" }
        // The log is throttled per kind; the counter counts every failure.
        func failures() -> Int {
            let body = httpGet(port: metrics, path: "/metrics")?.body ?? ""
            let line = body.split(separator: "\n").first { $0.hasPrefix("tickd_tls_handshake_failures_total") }
            return line.flatMap { Int(Double($0.split(separator: " ").last ?? "") ?? -1) } ?? 0
        }

        // An honest publisher: its certificate's CN is its identity in the log.
        let honest = try certs.clientCertificate(commonName: "feed-a")
        let sent = try TestCertificates.sendOverTLS(Self.header + Self.lines(0..<100), port: port, caFile: certs.caFile, client: honest)
        #expect(sent.status == 0, "\(sent.output)")
        #expect(eventually { stored() == "100" }, "\(daemon.output)")
        #expect(daemon.output.contains("publisher=feed-a"), "\(daemon.output)")

        // Hostile peers, each with 100 ticks of its own: none gets one in.
        var attempts = 0
        let socket = try LineSocket(port: port)
        _ = socket.send(Self.header + Self.lines(1000..<1100))       // plain text on the TLS port
        attempts += 1
        _ = try TestCertificates.sendOverTLS(Self.header + Self.lines(2000..<2100), port: port, caFile: certs.caFile)  // no certificate
        attempts += 1
        _ = try TestCertificates.sendOverTLS(Self.header + Self.lines(3000..<3100), port: port, caFile: certs.caFile,
                                             client: try certs.clientCertificate(commonName: "intruder", otherCA: true))
        attempts += 1
        _ = try TestCertificates.sendOverTLS(Self.header + Self.lines(4000..<4100), port: port, caFile: certs.caFile,
                                             client: try certs.clientCertificate(commonName: "feed-old", days: -1))  // expired
        attempts += 1
        // A server the client does not trust (verified against another CA): the client gives up.
        let untrusting = try TestCertificates.sendOverTLS(Self.header + Self.lines(5000..<5100), port: port, caFile: certs.otherCAFile,
                                                          client: honest)
        #expect(untrusting.status != 0)
        attempts += 1
        #expect(eventually { failures() >= attempts }, "\(failures()) of \(attempts) failures logged: \(daemon.output)")

        // Slow-loris handshakes: two connections (the listener's whole capacity) that never
        // finish a handshake are closed after the handshake timeout, and an honest publisher
        // gets in after them.
        let silent = try [LineSocket(port: port), LineSocket(port: port)]
        #expect(eventually { failures() >= attempts + 2 }, "\(daemon.output)")
        #expect(silent.allSatisfy { $0.peerCloses(within: .seconds(30)) }, "a silent connection stayed open")
        let after = try TestCertificates.sendOverTLS(Self.header + Self.lines(100..<200), port: port, caFile: certs.caFile, client: honest)
        #expect(after.status == 0)
        #expect(eventually { stored() == "200" }, "\(daemon.output)")
        #expect(try db.value("SELECT count(*) FROM market_ticks WHERE trade_seq >= 1000") == "0")
        print("feed TLS: 200 ticks from feed-a stored; \(attempts) hostile attempts (plain text, no certificate, another CA, expired, "
              + "untrusted server) and 2 silent handshakes: 0 ticks in, \(failures()) handshake failures counted")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")
    }

    @Test func aCertificateRotatedWithSIGHUPServesNewConnections() throws {
        let certs = try TestCertificates()
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let live = TickdProcess.temporaryPath("live")
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: certs.serverCert, toPath: "\(live)/feed.crt")
        try FileManager.default.copyItem(atPath: certs.serverKey, toPath: "\(live)/feed.key")
        let config = try DaemonTests.configFile(db, """
            sources:
              listen:
                - address: "127.0.0.1:0"
                  tls:
                    cert_file: \(live)/feed.crt
                    key_file: \(live)/feed.key
            """)
        let daemon = try DaemonProcess(["run", "--config", config], environment: ["DATABASE_URL": db.url, "REDIS_URL": ""])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        #expect(try TestCertificates.sendOverTLS(Self.header + Self.lines(0..<10), port: port, caFile: certs.caFile).status == 0)
        #expect(eventually { (try? db.value("SELECT count(*) FROM market_ticks")) == "10" }, "\(daemon.output)")

        // A broken file on SIGHUP: the certificate in use stays.
        try "not a certificate".write(toFile: "\(live)/feed.crt", atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLine(containing: "TLS certificate not reloaded") != nil, "\(daemon.output)")
        #expect(try TestCertificates.sendOverTLS(Self.header + Self.lines(10..<20), port: port, caFile: certs.caFile).status == 0)

        // The rotated certificate (of another CA) once SIGHUP says so.
        let rotated = try certs.otherServerCertificate()
        try FileManager.default.removeItem(atPath: "\(live)/feed.crt")
        try FileManager.default.removeItem(atPath: "\(live)/feed.key")
        try FileManager.default.copyItem(atPath: rotated.cert, toPath: "\(live)/feed.crt")
        try FileManager.default.copyItem(atPath: rotated.key, toPath: "\(live)/feed.key")
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLine(containing: "TLS certificate reloaded") != nil, "\(daemon.output)")
        #expect(try TestCertificates.sendOverTLS(Self.header + Self.lines(20..<30), port: port, caFile: certs.caFile).status != 0)
        #expect(try TestCertificates.sendOverTLS(Self.header + Self.lines(30..<40), port: port, caFile: certs.otherCAFile).status == 0)
        #expect(eventually { (try? db.value("SELECT count(*) FROM market_ticks")) == "30" }, "\(daemon.output)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")
    }
}

extension FeedTLSTests {
    @Test func eachPublisherSetsThePricesOfItsOwnSymbolsOnly() throws {
        let certs = try TestCertificates()
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let config = try DaemonTests.configFile(db, """
            publishers:
              feed-a: [SCOM, EQTY]
              feed-b: ["*"]
            sources:
              listen:
                - address: "127.0.0.1:0"
                  tls:
                    cert_file: \(certs.serverCert)
                    key_file: \(certs.serverKey)
                    client_ca_file: \(certs.caFile)
            """)
        let daemon = try DaemonProcess(["run", "--config", config, "--metrics", "127.0.0.1:0"], environment: ["DATABASE_URL": db.url, "REDIS_URL": ""])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let metrics = try #require(daemon.port(loggedWith: "metrics endpoint"))
        func feed(_ symbol: String, _ ids: Range<Int>) -> String { ids.map { DaemonTests.line($0, symbol: symbol) + "\n" }.joined() }
        // feed-a: 50 SCOM (its own) and 50 KCB (not); feed-b: 50 KCB; feed-c (not listed): 50 SCOM.
        let a = try certs.clientCertificate(commonName: "feed-a"), b = try certs.clientCertificate(commonName: "feed-b")
        let c = try certs.clientCertificate(commonName: "feed-c")
        #expect(try TestCertificates.sendOverTLS(Self.header + feed("SCOM", 0..<50) + feed("KCB", 50..<100), port: port, caFile: certs.caFile, client: a).status == 0)
        #expect(try TestCertificates.sendOverTLS(Self.header + feed("KCB", 100..<150), port: port, caFile: certs.caFile, client: b).status == 0)
        #expect(try TestCertificates.sendOverTLS(Self.header + feed("SCOM", 150..<200), port: port, caFile: certs.caFile, client: c).status == 0)
        #expect(eventually { (try? db.value("SELECT count(*) FROM market_ticks")) == "100" }, "\(daemon.output)")
        #expect(eventually { daemon.output.components(separatedBy: "publisher disconnected").count == 4 }, "\(daemon.output)")
        #expect(try db.rows("SELECT symbol, min(trade_seq), max(trade_seq) FROM market_ticks GROUP BY 1 ORDER BY 1")
                == [["KCB", "100", "149"], ["SCOM", "0", "49"]])
        // Each refused tick is counted per publisher, and dead-lettered with its reason and
        // publisher (read once tickd has exited: the file is written on an I/O thread).
        let counted = (httpGet(port: metrics, path: "/metrics")?.body ?? "").split(separator: "\n").filter { $0.hasPrefix("tickd_not_entitled_total") }
        for publisher in ["feed-a", "feed-c"] {
            let line = counted.first { $0.contains("publisher=\"\(publisher)\"") }
            #expect(line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } == 50, "\(counted)")
        }
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")
        let letters = try String(contentsOfFile: db.config().deadLetterPath, encoding: .utf8).split(separator: "\n")
        #expect(letters.count { $0.contains("not_entitled") && $0.contains("publisher feed-a may not send KCB") } == 50)
        #expect(letters.count { $0.contains("not_entitled") && $0.contains("publisher feed-c may not send SCOM") } == 50)
        print("entitlements: feed-a 50 SCOM stored, 50 KCB not_entitled; feed-b 50 KCB stored; feed-c (unlisted) 50 SCOM not_entitled")
    }
}
