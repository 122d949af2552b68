import Foundation
import Testing
import TestSupport
import LibPQ
import Hiredis
import Zstd
import Gzip

/// Smoke tests of each C wrapper against the real library and, for libpq and hiredis,
/// the real servers the test command starts (DATABASE_URL, REDIS_URL).
@Suite(.ownThreads) struct NativeLibrarySmokeTests {
    static let env = ProcessInfo.processInfo.environment

    @Test func postgresOpenQueryClose() throws {
        let url = try #require(Self.env["DATABASE_URL"], "scripts/test.sh exports DATABASE_URL")
        let connection = try Connection(conninfo: url)
        #expect(connection.isOpen)
        #expect(connection.serverVersion >= 150000)
        let result = try connection.execute("SELECT $1::numeric + 1, $2::text IS NULL", ["22.10", nil])
        #expect(result.value(row: 0, column: 0) == "23.10")
        #expect(result.value(row: 0, column: 1) == "t")
    }

    @Test func postgresErrorCarriesSQLState() throws {
        let url = try #require(Self.env["DATABASE_URL"])
        let connection = try Connection(conninfo: url)
        let error = #expect(throws: PostgresError.self) { try connection.execute("SELECT * FROM no_such_table_here") }
        #expect(error?.sqlState == "42P01")
        #expect(error?.isTransient == false)
        #expect(SQLState(rawValue: "40001").isTransient)
        #expect(SQLState(rawValue: "57P01").isTransient)
        #expect(SQLState(rawValue: "08006").isTransient)
        #expect(!SQLState(rawValue: "23505").isTransient)
    }

    @Test func postgresPipelineReturnsResultsInOrderAndStopsAtTheFirstError() throws {
        let url = try #require(Self.env["DATABASE_URL"])
        let connection = try Connection(conninfo: url)
        try connection.prepare("double_it", "SELECT $1::int8 * 2")
        let results = try connection.pipeline([
            Statement("SELECT $1::text || 'b'", ["a"], operation: "concat"),
            Statement(prepared: "double_it", ["21"], operation: "double"),
            Statement("SELECT 1 WHERE false", operation: "nothing"),
        ])
        #expect(results.map { $0.rows } == [[["ab"]], [["42"]], []])
        // Inside a transaction: the failing statement is named, the ones after it are skipped.
        let error = #expect(throws: PostgresError.self) {
            try connection.pipeline([
                Statement("BEGIN", operation: "begin"),
                Statement("CREATE TEMP TABLE pipeline_probe (n int)", operation: "create"),
                Statement("SELECT 1 / $1::int", ["0"], operation: "divide"),
                Statement("INSERT INTO pipeline_probe VALUES (1)", operation: "insert"),
                Statement("COMMIT", operation: "commit"),
            ])
        }
        #expect(error?.operation == "divide")
        #expect(error?.sqlState == "22012")
        #expect(connection.isInTransaction)
        try connection.execute("ROLLBACK")
        // The connection is ready for more, and nothing after the error ran.
        #expect(try connection.execute("SELECT to_regclass('pg_temp.pipeline_probe') IS NULL").value(row: 0, column: 0) == "t")
        #expect(try connection.pipeline([Statement(prepared: "double_it", ["5"], operation: "double")]).first?.value(row: 0, column: 0) == "10")
    }

    @Test func postgresBadPasswordIsAConnectError() throws {
        let url = try #require(Self.env["DATABASE_URL"])
        let wrong = url.replacingOccurrences(of: "tickd-dev-secret", with: "wrong-password")
        let error = #expect(throws: PostgresError.self) { try Connection(conninfo: wrong) }
        #expect(error?.operation == "connect")
        #expect(error?.message.contains("password") == true)
        #expect(error?.sqlState == "28P01" && error?.isTransient == false)
    }

    /// libpq's messages as PostgreSQL 15 and libpq 15 print them: what no retry can fix is permanent.
    @Test(arguments: [
        ("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"tickd\"", "28P01", false),
        ("connection to server at \"127.0.0.1\", port 5432 failed: fe_sendauth: no password supplied", "28P01", false),
        ("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"nodb\" does not exist", "3D000", false),
        ("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  role \"ghost\" does not exist", "28000", false),
        ("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"x\", database \"y\", no encryption", "28000", false),
        ("connection to server at \"127.0.0.1\", port 5432 failed: server does not support SSL, but SSL was required", "08004", false),
        ("invalid sslmode value: \"bogus\"", "08004", false),
        ("connection to server at \"127.0.0.1\", port 1 failed: Connection refused", "08001", true),
        ("could not translate host name \"db.internal\" to address: Name or service not known", "08001", true),
        ("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  the database system is starting up", "57P03", true),
        ("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  sorry, too many clients already", "53300", true),
        ("connection to server at \"127.0.0.1\", port 5432 failed: timeout expired", "08001", true),
        // A database named like a phrase of another rule is still an unknown database.
        ("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"certificate\" does not exist", "3D000", false),
    ])
    func connectFailuresArePermanentOrTransientByTheirCause(message: String, sqlState: String, transient: Bool) {
        #expect(ConnectFailure.sqlState(for: message) == SQLState(rawValue: sqlState))
        #expect(ConnectFailure.sqlState(for: message).isTransient == transient)
    }

    @Test func redisPingWithAuth() throws {
        let text = try #require(Self.env["REDIS_URL"], "scripts/test.sh exports REDIS_URL")
        let url = try RedisURL(parsing: text)
        let redis = try RedisConnection(url: url)
        #expect(try redis.command(["PING"]) == .status("PONG"))
        // Pipelined: append three, read three.
        try redis.append(["SET", "tickd:smoke", "23.10"])
        try redis.append(["GET", "tickd:smoke"])
        try redis.append(["DEL", "tickd:smoke"])
        #expect(try redis.readReply() == .status("OK"))
        #expect(try redis.readReply().text == "23.10")
        #expect(try redis.readReply() == .integer(1))
        #expect(!url.description.contains(url.password ?? "\u{0}"))
    }

    @Test func encodedCommandsAreTheProtocolsBytesAndRedisAnswersEachOnce() throws {
        var commands = RedisCommandBuffer()
        commands.begin(arguments: 3)
        commands.argument(Array("SET".utf8))
        commands.argument(Array("tickd:smoke:encoded".utf8))
        commands.argument([0x00, 0x0D, 0x0A, 0xFF] + Array(repeating: UInt8(ascii: "x"), count: 12))   // binary-safe, 16 bytes
        commands.begin(arguments: 2)
        commands.argument(Array("GET".utf8))
        commands.argument(Array("tickd:smoke:encoded".utf8))
        commands.begin(arguments: 2)
        commands.argument(Array("DEL".utf8))
        commands.argument(Array("tickd:smoke:encoded".utf8))
        #expect(commands.count == 3)
        let head = Array("*3\r\n$3\r\nSET\r\n$19\r\ntickd:smoke:encoded\r\n$16\r\n\0\r\n\u{FF}".utf8).dropLast(2) + [0xFF]
        #expect(Array(commands.bytes.prefix(head.count)) == Array(head))
        let text = try #require(Self.env["REDIS_URL"])
        let redis = try RedisConnection(url: try RedisURL(parsing: text))
        try redis.append(encoded: commands)
        #expect(try redis.readReply() == .status("OK"))
        #expect(try redis.readReply() == .string([0x00, 0x0D, 0x0A, 0xFF] + Array(repeating: UInt8(ascii: "x"), count: 12)))
        #expect(try redis.readReply() == .integer(1))
        commands.removeAll()
        #expect(commands.count == 0 && commands.bytes.isEmpty)
    }

    @Test func redisWrongPasswordIsAReplyError() throws {
        let text = try #require(Self.env["REDIS_URL"])
        var url = try RedisURL(parsing: text)
        url.password = "not-the-password"
        let error = #expect(throws: RedisError.self) { try RedisConnection(url: url) }
        #expect(error?.kind == .reply)
    }

    @Test func redisURLParsing() throws {
        let url = try RedisURL(parsing: "redis://app:p%40ss@cache.local:6380/2")
        #expect(url == RedisURL(host: "cache.local", port: 6380, database: 2, user: "app", password: "p@ss"))
        #expect(url.description == "redis://app:***@cache.local:6380/2")
        #expect(throws: RedisError.self) { try RedisURL(parsing: "http://x") }
        #expect(throws: RedisError.self) { try RedisURL(parsing: "redis://host:99999") }
    }

    @Test func zstdRoundTripAcrossChunks() throws {
        let text = Array((0..<5000).map { "2026-01-05T06:00:\($0 % 60)Z,SCOM,23.10,100\n" }.joined().utf8)
        let compressed = try Zstd.compress(text)
        #expect(compressed.count < text.count / 4)
        #expect(try Zstd.decompress(compressed) == text)
        // Fed one byte at a time the stream gives the same bytes.
        let decompressor = try ZstdDecompressor(outputChunk: 1000)
        var out: [UInt8] = []
        for byte in compressed { try [byte].withUnsafeBytes { try decompressor.feed($0) { out.append(contentsOf: $0) } } }
        try decompressor.finish()
        #expect(out == text)
        #expect(throws: ZstdError.self) { _ = try Zstd.decompress(Array(compressed.dropLast(8))) }
    }

    @Test func zstdStreamingCompressionRoundTrips() throws {
        let text = Array((0..<20000).map { "2026-01-05T06:00:\($0 % 60)Z,SCOM,23.\($0 % 97),100\n" }.joined().utf8)
        let compressor = try ZstdCompressor(level: 1, outputChunk: 512)
        var compressed: [UInt8] = []
        var offset = 0
        while offset < text.count {   // uneven pieces
            let end = min(text.count, offset + 7001)
            try text[offset..<end].withUnsafeBytes { try compressor.feed($0) { compressed.append(contentsOf: $0) } }
            offset = end
        }
        try compressor.finish { compressed.append(contentsOf: $0) }
        #expect(compressed.count < text.count / 4)
        #expect(try Zstd.decompress(compressed) == text)
    }

    @Test func gzipRoundTripConcatenatedMembers() throws {
        let a = Array("first member\n".utf8), b = Array(String(repeating: "second,member\n", count: 4000).utf8)
        let joined = try Gzip.compress(a) + Gzip.compress(b)
        #expect(try Gzip.decompress(joined) == a + b)
        #expect(throws: GzipError.self) { _ = try Gzip.decompress(Array(joined.dropLast(10))) }
    }
}
