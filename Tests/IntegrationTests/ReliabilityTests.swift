import Foundation
import Hiredis
import LibPQ
import Synchronization
import Testing
import TestSupport
import TickDaemon
import TickModel
import TickNormalisation
import TickSinks

/// The sink's delivery guarantees against the real PostgreSQL: ambiguous commits, the Redis
/// outbox, resumable file positions.
@Suite(.ownThreads) struct ReliabilityTests {
    static let lostConnection = PostgresError(sqlState: nil, message: "server closed the connection unexpectedly", operation: "commit")

    final class Faults { var count = 0 }

    /// A sink of `db` whose connection is lost once, at `phase` (after `also` ran on it).
    static func sinkLosingTheConnectionOnce(_ db: TestDatabase, at phase: PostgresSink.CommitPhase,
                                            also: @escaping (Connection) -> Void = { _ in }) async throws -> (PostgresSink, Faults) {
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        sink.retry = Backoff(initial: .milliseconds(10), cap: sink.retry.cap)
        let faults = Faults()
        sink.commitFault = { at, connection throws(PostgresError) in
            guard at == phase && faults.count == 0 else { return }
            faults.count += 1
            also(connection)
            throw Self.lostConnection
        }
        return (sink, faults)
    }

    @Test func aCommitWhoseAcknowledgementIsLostIsNotWrittenTwice() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let (sink, faults) = try await Self.sinkLosingTheConnectionOnce(db, at: .afterCommit)
        let result = try await sink.write(FailureTests.batch(0..<50), source: "t", throughLine: 50)
        #expect(faults.count == 1 && sink.retries == 1)
        // The server said committed: the batch is returned as stored (so it is published), and not written again.
        #expect(result.stored.map(\.seq) == Array(1...50))
        #expect(result.latestMoved == ["SCOM"], "the newest tick's last:SCOM message is still set")
        #expect(try db.rows("SELECT count(*), min(seq), max(seq) FROM market_ticks") == [["50", "1", "50"]])
        #expect(try db.value("SELECT last_seq FROM tickd_symbol_seq WHERE symbol = 'SCOM'") == "50")
    }

    @Test func aCommitThatNeverReachedTheServerIsWrittenAgain() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        // The session dies before COMMIT: the server aborts the transaction.
        let (sink, faults) = try await Self.sinkLosingTheConnectionOnce(db, at: .beforeCommit) { connection in
            _ = try? db.sql.execute("SELECT pg_terminate_backend(\(connection.backendPID))")
        }
        let result = try await sink.write(FailureTests.batch(0..<50), source: "t", throughLine: 50)
        #expect(faults.count == 1)
        #expect(result.stored.map(\.seq) == Array(1...50), "the rewrite takes the same seqs: the aborted ones were never used")
        #expect(try db.rows("SELECT count(*), min(seq), max(seq) FROM market_ticks") == [["50", "1", "50"]])
    }

    /// A server crash (`-m immediate`) before the commit record reached the disk loses the
    /// batch's transaction. The restarted server calls its id "in the future", then gives that
    /// id to its next transaction, and `txid_status` reports that one's commit: neither may
    /// pass for this batch's. (The WAL writer sleeps 10 s, so the batch's records are still in
    /// shared memory when the server dies, whatever the machine's speed.)
    @Test(arguments: [false, true]) func aBatchLostInAServerCrashIsWrittenAgainWhateverItsTransactionIdNowSays(idReused: Bool) async throws {
        let (pg, _) = try OutageTests.database()
        pg.settings = "-c wal_writer_delay=10s"
        try pg.stopCleanly()
        try pg.start()
        let statusAtRetry = Mutex<String?>(nil)
        let sink = try await PostgresSink.connected(conninfo: pg.url, options: SchemaOptions())
        sink.retry = Backoff(initial: .milliseconds(10), cap: sink.retry.cap)
        var faults = 0
        sink.commitFault = { at, connection throws(PostgresError) in
            guard at == .beforeCommit && faults == 0 else { return }
            faults += 1
            let xid = Int64(try connection.execute("SELECT txid_current()").value(row: 0, column: 0) ?? "") ?? 0
            pg.stop()
            try? pg.start()
            statusAtRetry.withLock { $0 = Self.transactionStatus(xid, url: pg.url, consumingUpTo: idReused) }
            throw Self.lostConnection
        }
        let batch = FailureTests.batch(0..<5)
        let result = try await sink.write(batch, source: "t", throughLine: 5)
        #expect(faults == 1)
        #expect(statusAtRetry.withLock { $0 } == (idReused ? "committed" : "22023"), "the case this test is about")
        #expect(result.stored.map(\.seq) == Array(1...5))
        // A new session: the crash closed the one opened with the server.
        let stored = try Connection(conninfo: pg.url).execute("SELECT seq::text, close::text FROM market_ticks ORDER BY seq").rows
        #expect(stored.map { $0[0] } == result.stored.map { String($0.seq) }, "what is returned (and published) is what is stored")
        #expect(stored.map { $0[1] } == batch.map { $0.tick.close.description })
    }

    /// `txid_status(xid)` on a new session (its SQLSTATE when it fails), after committing
    /// transactions until the server hands out `xid` again when `consumingUpTo`.
    static func transactionStatus(_ xid: Int64, url: String, consumingUpTo: Bool) -> String? {
        guard let session = try? Connection(conninfo: url) else { return nil }
        while consumingUpTo, let next = try? session.execute("SELECT txid_current()").value(row: 0, column: 0).flatMap({ Int64($0) }), next < xid {}
        do { return try session.execute("SELECT txid_status(\(xid))").value(row: 0, column: 0) } catch { return error.sqlState?.rawValue }
    }

    @Test func storedTicksNeverPublishedGoOutAtTheNextStartWithTheirSeq() async throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let prefix = "\(db.schema):ticks:"
        do {
            // A run that stored 30 ticks and died before publishing any.
            let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
            _ = try await sink.write(FailureTests.batch(0..<30), source: "t", throughLine: 30)
        }
        #expect(try db.value("SELECT published_seq FROM tickd_symbol_seq WHERE symbol = 'SCOM'") == "0")
        let subscriber = try TickSubscriber(url: redisURL, prefix: prefix)
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        let publisher = RedisPublisher(options: PublisherOptions(url: try RedisURL(parsing: redisURL), prefix: prefix))
        #expect(try await Outbox.recover(sink: sink, publisher: publisher, logger: .init(label: "test")) == 30)
        #expect(await publisher.drain(timeout: .seconds(10)))
        try await sink.recordPublished(publisher.retirement.seqs)
        await publisher.finish(timeout: .seconds(5))
        let messages = try subscriber.finish()
        #expect(messages.map(\.seq) == Array(1...30))
        #expect(messages.last?.fields["close"] == "23.39")
        #expect(try db.value("SELECT published_seq FROM tickd_symbol_seq WHERE symbol = 'SCOM'") == "30")
        // The newest of them was also SET as the symbol's last message.
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        #expect(try redis.command(["GET", "\(prefix)last:SCOM"]).text?.contains("\"seq\":30") == true)
        // Nothing is owed any more.
        #expect(try await Outbox.recover(sink: sink, publisher: RedisPublisher(options: publisher.options), logger: .init(label: "test")) == 0)
    }

    @Test func moreOwedThanTheBacklogHoldsIsLoggedAsRangesAndNotSent() async throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        _ = try await sink.write(FailureTests.batch(0..<30), source: "t", throughLine: 30)
        let logs = LogCapture()
        let publisher = RedisPublisher(options: PublisherOptions(url: try RedisURL(parsing: redisURL), prefix: "\(db.schema):ticks:",
                                                                 maxBacklog: 10))
        #expect(try await Outbox.recover(sink: sink, publisher: publisher, logger: logs.logger("tickd.redis")) == 0)
        #expect(publisher.stats.backlog == 0)
        #expect(try db.value("SELECT published_seq FROM tickd_symbol_seq WHERE symbol = 'SCOM'") == "30")
        #expect(logs.records.contains { $0.level == .error && $0.metadata["reread"] == "SCOM seq 1-30" }, "\(logs.records)")
        await publisher.finish(timeout: .seconds(5))
    }

    @Test func withPublishingOffNothingIsOwed() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        try await Outbox.recover(sink: sink, publisher: nil, logger: .init(label: "test"))
        _ = try await sink.write(FailureTests.batch(0..<10), source: "t", throughLine: 10)
        #expect(try db.value("SELECT published_seq FROM tickd_symbol_seq WHERE symbol = 'SCOM'") == "10")
    }

    @Test func aReplayResumesAfterItsCommittedPositionKeepingTheCSVHeader() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(db.schema)-resume.csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A header naming the columns in an unusual order: resumed lines can only be read with it.
        func lines(_ range: Range<Int>) -> String {
            range.map { "\(2310 + $0),SCOM,2026-01-05T06:00:\(String(format: "%02d", $0 % 60)).\(String(format: "%03d", $0))Z,100\n" }.joined()
        }
        // More than the 4 KiB head of the identity, so that appending keeps the identity.
        try ("price,symbol,time,volume\n" + lines(0..<120) + "garbage line\n").write(toFile: path, atomically: true, encoding: .utf8)
        let first = try await db.replay(files: [path])
        #expect(first.inserted == 120 && first.resumed == 0 && first.rejected == 1)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        // One position for the file, whatever the number of writers: its end.
        #expect(try db.rows("SELECT stream LIKE '%#w%', applied FROM tickd_positions WHERE stream LIKE 'file:%resume.csv%'") == [["f", String(size)]])
        // The same file again: nothing read, nothing dead-lettered twice.
        let second = try await db.replay(files: [path])
        #expect(second.read == 0 && second.resumed == 121 && second.inserted == 0)
        // The file grows (a recorder still writing): only the new lines are read.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(lines(120..<135).utf8))
        handle.closeFile()
        let third = try await db.replay(files: [path])
        #expect(third.read == 15 && third.inserted == 15)
        #expect(try db.rows("SELECT count(*), max(seq) FROM market_ticks") == [["135", "135"]])
        // --no-resume reads it all again; the unchanged-row check stores nothing twice.
        let all = try await ReplayRunner(config: db.config(), request: ReplayRequest(files: [path], dryRun: false, resume: false)).run()
        #expect(all.read == 136 && all.inserted == 0)
        // Another file under the same path starts over.
        try FileManager.default.removeItem(atPath: path)
        try ("time,symbol,price,volume\n2026-01-05T07:00:00Z,KCB,40.5,10\n").write(toFile: path, atomically: true, encoding: .utf8)
        let replaced = try await db.replay(files: [path])
        #expect(replaced.read == 1 && replaced.inserted == 1 && replaced.resumed == 0)
    }
}
