import Foundation
import Hiredis
import Testing
import TestSupport

/// `rediss://` against a real redis-server listening with TLS (a test CA made here): hiredis
/// speaks RESP through tickd's TLS bridge; the server's certificate and name are verified.
@Suite(.ownThreads) struct RedisTLSTests {
    /// Generous: the whole suite loads the machine (one 2 s read timeout was seen under it).
    static let timeout = Duration.seconds(10)

    @Test func aTLSConnectionVerifiesTheServerAndCarriesCommands() throws {
        let certificates = try TestCertificates()
        let server = try PrivateRedis(tls: certificates)
        let tlsPort = try #require(server.tlsPort)
        let trusted = RedisTLS(caFile: certificates.caFile)
        for host in ["127.0.0.1", "localhost"] {
            let redis = try RedisConnection(url: RedisURL(parsing: "rediss://\(host):\(tlsPort)/0"), timeout: Self.timeout, tls: trusted)
            #expect(try redis.command(["PING"]) == .status("PONG"))
            #expect(try redis.command(["SET", "tls:probe", String(repeating: "x", count: 100_000)]) == .status("OK"))
            #expect(try redis.command(["STRLEN", "tls:probe"]) == .integer(100_000))
        }
        // A server whose certificate no trusted CA signed: refused at the handshake.
        let refused = #expect(throws: RedisError.self) {
            try RedisConnection(url: RedisURL(parsing: "rediss://127.0.0.1:\(tlsPort)/0"), timeout: Self.timeout,
                                tls: RedisTLS(caFile: certificates.otherCAFile))
        }
        #expect(refused?.message.contains("TLS handshake with 127.0.0.1:\(tlsPort) failed: certificate verify failed") == true,
                "\(String(describing: refused))")
        print("rediss with an untrusted server certificate: \(refused?.message ?? "")")
        // Plain RESP on the TLS port is not a working connection either way.
        #expect(throws: RedisError.self) {
            let plain = try RedisConnection(url: RedisURL(parsing: "redis://127.0.0.1:\(tlsPort)/0"), timeout: .milliseconds(500))
            _ = try plain.command(["PING"])
        }
    }

    @Test func aServerThatAsksForAClientCertificateGetsOne() throws {
        let certificates = try TestCertificates()
        let server = try PrivateRedis(tls: certificates, clientCertificates: true)
        let url = try RedisURL(parsing: "rediss://127.0.0.1:\(try #require(server.tlsPort))/0")
        let withCertificate = try RedisConnection(url: url, timeout: Self.timeout, tls: RedisTLS(caFile: certificates.caFile, certFile: certificates.clientCert,
                                                                          keyFile: certificates.clientKey))
        #expect(try withCertificate.command(["PING"]) == .status("PONG"))
        #expect(throws: RedisError.self) {
            let without = try RedisConnection(url: url, timeout: .milliseconds(500), tls: RedisTLS(caFile: certificates.caFile))
            _ = try without.command(["PING"])
        }
    }

    @Test func aReplayPublishesEveryTickOverRediss() throws {
        let certificates = try TestCertificates()
        let server = try PrivateRedis(tls: certificates)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let prefix = "\(db.schema):ticks:"
        let subscriber = try TickSubscriber(url: server.url, prefix: prefix)
        let run = try TickdProcess.run(["replay", "Seeds/feeds/nse-2026-01-05.trades.csv", "--report", "json"], environment: [
            "DATABASE_URL": db.url, "REDIS_URL": "rediss://127.0.0.1:\(try #require(server.tlsPort))/0",
            "TICKD_REDIS_TLS_CA_FILE": certificates.caFile, "TICKD_REDIS_PREFIX": prefix,
            "TICKD_DEAD_LETTER_PATH": TickdProcess.temporaryPath("dead.jsonl")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(#""inserted":103991,"published":103991"#), "\(run.stdout)")
        let messages = try subscriber.finish()
        #expect(messages.count == 103_991)
        print("rediss: a replay published \(messages.count) ticks through the TLS bridge; a subscriber on the plain port got them all")
    }
}
