import Foundation
import Synchronization
import Testing
import TestSupport
@testable import TickJournal
import TickModel
import TickNormalisation

@Suite(.ownThreads) struct JournalTests {
    static func directory() -> String {
        let path = "/tmp/tickd-journal-test-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.removeItem(atPath: path)
        return path
    }

    static func chunk(_ n: Int, ticks: Int = 3) -> TickChunk {
        TickChunk(source: "tcp 127.0.0.1:\(n)", throughLine: n * 10, ticks: (0..<ticks).map { i in
            KeyedTick(tick: Tick(time: Timestamp(nanosecondsSinceEpoch: 1_767_592_800_000_000_000 + Int64(n * 1000 + i) * 1000),
                                 symbol: i % 2 == 0 ? "SCOM" : "KCB",
                                 open: Price(units: 2310, scale: 2), high: Price(units: 23105, scale: 3),
                                 low: Price(units: -1, scale: 18), close: Price(units: 2310 + Int64(i), scale: 2),
                                 volume: Int64(100 * (i + 1)), feedSequence: i == 1 ? Int64(n) : nil,
                                 action: i == 1 ? (n % 2 == 0 ? .cancel : .correct) : .trade),
                      tradeSeq: Int64(i))
        })
    }

    static func readAll(_ journal: Journal, after: UInt64 = 0) throws -> [(UInt64, TickChunk)] {
        var out: [(UInt64, TickChunk)] = []
        var cursor = journal.cursor(after: after, through: .max)
        while let record = try cursor.next() { out.append(record) }
        return out
    }

    static func segmentFiles(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".seg") }.sorted()
    }

    /// Writes records 1-3 in a new journal, closes it, and returns its segment file.
    static func closedJournalOfThreeRecords(_ dir: String) throws -> String {
        let journal = try Journal(options: JournalOptions(directory: dir))
        for n in 1...3 { _ = try journal.append(Self.chunk(n)) }
        return "\(dir)/\(Self.segmentFiles(dir)[0])"
    }

    @Test func recordsComeBackExactlyAsAppendedAfterReopening() throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let identity: String
        do {
            let journal = try Journal(options: JournalOptions(directory: dir))
            identity = journal.identity
            #expect(journal.recoveredThrough == 0)
            for n in 1...5 { #expect(try journal.append(Self.chunk(n)) == UInt64(n)) }
        }
        let reopened = try Journal(options: JournalOptions(directory: dir))
        #expect(reopened.identity == identity)
        #expect(reopened.recoveredThrough == 5)
        #expect(reopened.repair == nil)
        let records = try Self.readAll(reopened, after: 2)
        #expect(records.map(\.0) == [3, 4, 5])
        for (lsn, chunk) in records {
            let sent = Self.chunk(Int(lsn))
            #expect(chunk.ticks == sent.ticks)
            #expect(chunk.source == sent.source && chunk.throughLine == sent.throughLine)
        }
        #expect(try reopened.append(Self.chunk(6)) == 6)
    }

    /// A record of a release before actions existed (flag byte 0 or 1) is a trade.
    @Test func recordsWrittenBeforeActionsExistedReadAsTrades() throws {
        var chunk = Self.chunk(1)
        for index in chunk.ticks.indices { chunk.ticks[index].tick.action = .trade }
        let bytes = JournalRecord.encode(chunk)
        #expect(bytes.withUnsafeBytes { JournalRecord.decode($0) }?.ticks == chunk.ticks)
        var unknown = JournalRecord.encode(Self.chunk(2))
        // The second tick's flag byte, after the header (version, source, line, count), the first
        // tick (66 bytes: SCOM, no trade id) and the second's fields before it (KCB: 64 bytes).
        let flag = 1 + 2 + Self.chunk(2).source.utf8.count + 8 + 4 + 66 + 64
        #expect(unknown[flag] == 1 | 2 << 1)  // a trade id follows; action 2, cancel
        unknown[flag] = 1 | 4 << 1  // an action no release writes
        #expect(unknown.withUnsafeBytes { JournalRecord.decode($0) } == nil)
        unknown[flag] = 1 | 3 << 1  // a status record whose status (in the volume's place, 200) is none
        #expect(unknown.withUnsafeBytes { JournalRecord.decode($0) } == nil)
    }

    @Test func statusRecordsTravelWithTheirStatus() throws {
        let at = Timestamp(secondsSinceEpoch: 1_767_592_800)
        let chunk = TickChunk(source: "tcp 127.0.0.1:9", throughLine: 4, ticks: [
            KeyedTick(tick: .status(.halted, of: "SCOM", at: at), tradeSeq: 0),
            KeyedTick(tick: .trade(time: at, symbol: "SCOM", price: Price(units: 2310, scale: 2), size: 100), tradeSeq: 1),
            KeyedTick(tick: .status(.preOpen, of: TradingStatus.market, at: at), tradeSeq: 0),
        ])
        let decoded = JournalRecord.encode(chunk).withUnsafeBytes { JournalRecord.decode($0) }
        #expect(decoded?.ticks == chunk.ticks)
        #expect(decoded?.ticks.map(\.tick.status) == [.halted, nil, .preOpen])
    }

    @Test func aTornTailIsCutAtTheLastGoodRecordAndReported() throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let segment = try Self.closedJournalOfThreeRecords(dir)
        let good = try Data(contentsOf: URL(fileURLWithPath: segment))
        // A crash in the middle of writing record 4: its header and part of its payload.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: segment))
        handle.seekToEndOfFile()
        handle.write(Data([UInt8](repeating: 0x41, count: 16) + [1, 2, 3]))
        handle.closeFile()
        let journal = try Journal(options: JournalOptions(directory: dir))
        #expect(journal.recoveredThrough == 3)
        let repair = try #require(journal.repair)
        #expect(repair.contains("cut 19 bytes after record 3"), "\(repair)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: segment)) == good)
        #expect(try journal.append(Self.chunk(4)) == 4)
        #expect(try Self.readAll(journal).map(\.0) == [1, 2, 3, 4])
    }

    @Test func aCorruptLastRecordIsCutByItsChecksum() throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let segment = try Self.closedJournalOfThreeRecords(dir)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: segment)))
        bytes[bytes.count - 5] ^= 0xFF   // a bit flip inside record 3's payload
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        let journal = try Journal(options: JournalOptions(directory: dir))
        #expect(journal.recoveredThrough == 2)
        #expect(journal.repair?.contains("checksum") == true)
        #expect(try Self.readAll(journal).map(\.0) == [1, 2])
    }

    @Test(.timeLimit(.minutes(1))) func fullSegmentsAreSealedCompressedAndDeletedOnceApplied() async throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        weak var closed: Journal?
        do {
            let journal = try Journal(options: JournalOptions(directory: dir, segmentBytes: 4096, maxBytes: 1 << 20))
            closed = journal
        for n in 1...100 { _ = try journal.append(Self.chunk(n, ticks: 20)) }
        // Every record reads back while sealed segments are still being compressed.
        #expect(try Self.readAll(journal).map(\.0) == Array(1...100))
        try await journal.sync()   // waits for the background seals
        let files = Self.segmentFiles(dir)
        #expect(files.filter { $0.hasSuffix(".seg.zst") }.count >= 5, "\(files)")
        #expect(files.filter { $0.hasSuffix(".seg") }.count == 1, "only the active segment is raw: \(files)")
        // Every record reads back across the compressed segments, in order.
        #expect(try Self.readAll(journal).map(\.0) == Array(1...100))
        let before = journal.usage
        #expect(journal.detachReleased(through: 1).isEmpty, "no segment ends at record 1: nothing to delete")
        #expect(journal.usage == before)
        journal.release(through: 60)
        let after = journal.usage
        #expect(after.segments < before.segments && after.bytes < before.bytes)
        // Nothing at or after record 61 is gone.
        #expect(try Self.readAll(journal, after: 60).map(\.0) == Array(61...100))
        journal.release(through: 100)
        #expect(Self.segmentFiles(dir).count == 1, "the active segment stays: it carries the numbering")
        #expect(try journal.append(Self.chunk(101)) == 101)
        #expect(throws: JournalError.self, "a second tickd on the same directory is refused") {
            try Journal(options: JournalOptions(directory: dir))
        }
        // A pending seal holds the journal (and its lock) until it is done: wait for it, so the
        // journal is closed when this scope ends.
        try await journal.sync()
        }
        // The executor that ran the last fsync lets go of its job (and so of the journal) just
        // after resuming the wait: the lock is free once the journal is gone.
        while closed != nil { try await Task.sleep(for: .milliseconds(1)) }
        let reopened = try Journal(options: JournalOptions(directory: dir, segmentBytes: 4096))
        #expect(reopened.recoveredThrough == 101)
    }

    @Test func theSizeBoundSaysFullSoThatAppendsWait() async throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let journal = try Journal(options: JournalOptions(directory: dir, segmentBytes: 2048, maxBytes: 8192))
        var n = 0
        // Sealed segments shrink when their background compression finishes: full counts once
        // no seal is pending (sync waits for them).
        while n < 1000 {
            n += 1
            _ = try journal.append(Self.chunk(n, ticks: 10))
            if journal.isFull {
                try await journal.sync()
                if journal.isFull { break }
            }
        }
        #expect(journal.isFull && n < 1000)
        journal.release(through: UInt64(n))
        #expect(!journal.isFull)
    }

    @Test func aJournalWhoseSegmentsWereRemovedGetsANewIdentity() throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Journal(options: JournalOptions(directory: dir)).identity
        for file in Self.segmentFiles(dir) { try FileManager.default.removeItem(atPath: "\(dir)/\(file)") }
        let second = try Journal(options: JournalOptions(directory: dir))
        #expect(second.identity != first, "numbering restarts at 1, so old positions must not apply")
        #expect(second.recoveredThrough == 0)
    }

    /// Counts the journal's fsync calls; the first one can be held until released.
    final class FsyncProbe: Sendable {
        let calls = Mutex(0)
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let holdFirst: Bool
        let failFirst: Bool
        init(holdFirst: Bool = false, failFirst: Bool = false) {
            self.holdFirst = holdFirst
            self.failFirst = failFirst
        }
        func fsyncFile(_ fd: Int32) -> Int32 {
            let call = calls.withLock { n in n += 1; return n }
            if call == 1 && holdFirst { entered.signal(); release.wait() }
            if call == 1 && failFirst { errno = EIO; return -1 }
            return fsync(fd)
        }
    }

    /// A journal with `fsync: interval` due at every append, fsyncing through `probe`.
    static func journal(_ dir: String, fsyncingEveryAppendThrough probe: FsyncProbe, segmentBytes: Int = 16 << 20) throws -> Journal {
        try Journal(options: JournalOptions(directory: dir, segmentBytes: segmentBytes, fsync: .interval, fsyncInterval: .zero),
                    fsyncFile: probe.fsyncFile)
    }

    @Test func appendsGoOnWhileAnIntervalFsyncIsWaitingForTheDisk() async throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let probe = FsyncProbe(holdFirst: true)
        let journal = try Self.journal(dir, fsyncingEveryAppendThrough: probe, segmentBytes: 4096)
        // Record 1 starts an fsync that does not return until released (no seal has happened
        // yet, so it is the interval one); 50 more records, and the seals they cause, must not
        // wait for it.
        let appended = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        DispatchQueue.global().async {
            do {
                _ = try journal.append(Self.chunk(1, ticks: 10))
                probe.entered.wait()
                for n in 2...51 { _ = try journal.append(Self.chunk(n, ticks: 10)) }
            } catch { failure.withLock { $0 = "\(error)" } }
            appended.signal()
        }
        let finished = appended.wait(timeout: .now() + 10) == .success
        probe.release.signal()
        if !finished { appended.wait() }
        #expect(finished, "appends waited for the held fsync")
        #expect(failure.withLock { $0 } == nil)
        try await journal.sync()
        #expect(try Self.readAll(journal).map(\.0) == Array(1...51))
    }

    @Test func aFailedIntervalFsyncIsThrownByTheNextAppendAndLosesNoRecord() async throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let probe = FsyncProbe(failFirst: true)
        let journal = try Self.journal(dir, fsyncingEveryAppendThrough: probe)
        #expect(try journal.append(Self.chunk(1)) == 1)
        // The failure arrives from the background; appends before it succeed, the first after it throws.
        var thrown: JournalError?
        var stored = 1
        let deadline = ContinuousClock.now + .seconds(10)
        while thrown == nil && ContinuousClock.now < deadline {
            do { _ = try journal.append(Self.chunk(stored + 1)); stored += 1 } catch { thrown = error }
        }
        #expect(thrown?.message == String(cString: strerror(EIO)))
        // The refused append wrote nothing; the next one gets the next number, and all are there.
        #expect(try journal.append(Self.chunk(stored + 1)) == UInt64(stored + 1))
        try await journal.sync()
        #expect(try Self.readAll(journal).map(\.0) == Array(1...UInt64(stored + 1)))
    }

    @Test func aFailedIntervalFsyncIsThrownBySync() async throws {
        let dir = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let probe = FsyncProbe(failFirst: true)
        let journal = try Self.journal(dir, fsyncingEveryAppendThrough: probe)
        _ = try journal.append(Self.chunk(1))
        await #expect(throws: JournalError.self) { try await journal.sync() }
        try await journal.sync()   // the records were left unsynced, so this one fsyncs them again
        #expect(probe.calls.withLock { $0 } == 2)
    }
}
