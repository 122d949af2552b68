#if canImport(Glibc)
import Glibc
#endif
import Blocking
import Logging
import Synchronization
import TickNormalisation
import Zstd

/// The local journal of live feeds, after the kdb+ tickerplant log: every chunk tickd accepts
/// from a TCP source is appended here before it counts as received, numbered (the record's
/// LSN), checksummed, in segment files sealed and zstd-compressed as they fill. The database
/// commit records the last record applied (`tickd_positions`, stream `journal`); at start tickd
/// replays the records after it, so a crash or an outage loses nothing it accepted. Segments
/// whose every record is applied and published are deleted; past `maxBytes` on disk, appends
/// wait rather than drop. A torn or corrupt tail is cut at the last good record and reported.
///
/// Appends from any thread are serialised by a lock (a write(2) of a record; a seal only opens
/// the next file). A sealed segment is fsynced and compressed on a thread of its own (a `BlockingExecutor`), so a seal
/// never holds up the feed. With `fsync: interval` the periodic fsync runs on another
/// (on a duplicate of the descriptor), so appends go on while the disk is slow to answer it; a
/// failed fsync is thrown by the next append. Files are deleted outside the lock.
public final class Journal: Sendable {
    public let options: JournalOptions
    /// Names this journal; a position recorded for another journal (a directory started afresh)
    /// is never applied to this one.
    public let identity: String
    /// The last record on disk when the journal was opened (0 when empty): records up to it are
    /// replayed at start, the later ones arrive through the pipeline.
    public let recoveredThrough: UInt64
    /// The first record still on disk when the journal was opened (earlier ones were applied,
    /// published and deleted); nil when it holds none.
    public let firstRecord: UInt64?
    /// The identity of the database this journal serves (`tickd_database.id`), once bound: its
    /// records are applied to that database only. Nil for a journal never bound.
    public let boundDatabase: String?
    /// What was cut from a damaged tail at open, if anything (also logged).
    public let repair: String?

    private let files: SegmentFiles
    private let logger: Logger
    /// Holds `journal.lock` (flock) while open: one tickd per journal directory.
    private let lockFD: Int32

    private struct Segment {
        let first: UInt64
        var compressed: Bool
        var bytes: Int
    }
    private struct State {
        var segments: [Segment]
        var fd: Int32
        /// The active (last) segment's file, which `fd` appends to.
        var activePath: String
        var nextLSN: UInt64
        var totalBytes: Int
        var unsynced = false
        var lastSync = ContinuousClock.now
        /// A background fsync (`fsync: interval`) is running.
        var syncing = false
        /// What a background fsync failed with; the next append or `sync` throws it.
        var syncFailure: JournalError?
    }
    private let state: Mutex<State>
    /// Fsyncs and compresses sealed segments, one at a time, off the append path.
    private let sealing = BlockingExecutor(name: "tickd-journal-seal")
    /// Runs the `fsync: interval` fsyncs of the active segment, off the append path.
    private let flushing = BlockingExecutor(name: "tickd-journal-fsync")
    /// The fsync(2) the journal calls; tests replace it to hold or fail a background fsync.
    let fsyncFile: @Sendable (Int32) -> Int32

    /// Opens (creating it when absent) and recovers the journal in `options.directory`.
    public convenience init(options: JournalOptions, logger: Logger = Logger(label: "tickd.journal")) throws(JournalError) {
        try self.init(options: options, logger: logger, fsyncFile: { fsync($0) })
    }

    init(options: JournalOptions, logger: Logger = Logger(label: "tickd.journal"),
         fsyncFile: @escaping @Sendable (Int32) -> Int32) throws(JournalError) {
        self.fsyncFile = fsyncFile
        self.options = options
        self.logger = logger
        let files = SegmentFiles(directory: options.directory)
        self.files = files
        if mkdir(options.directory, 0o700) != 0 && errno != EEXIST { throw files.error(options.directory) }
        let lockPath = "\(options.directory)/journal.lock"
        lockFD = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw files.error(lockPath) }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            close(lockFD)
            throw JournalError(path: options.directory, message: "in use by another tickd (each tickd run needs its own journal.directory)")
        }
        var found: [(first: UInt64, compressed: Bool)]
        do { found = try files.list() } catch { close(lockFD); throw error }
        // A journal without segments starts its numbering afresh, so it must not keep its name.
        var identity = found.isEmpty ? nil : (try? files.readAll(files.identityPath)).map { String(decoding: $0, as: UTF8.self) }
        if identity?.isEmpty ?? true {
            let fresh = (0..<2).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined(separator: "-")
            try files.writeAtomically(Array(fresh.utf8), to: files.identityPath)
            identity = fresh
        }
        self.identity = identity!
        // A journal starting afresh serves no database yet.
        if found.isEmpty { unlink(files.databasePath) }
        boundDatabase = found.isEmpty ? nil : (try? files.readAll(files.databasePath)).map { String(decoding: $0, as: UTF8.self) }
        if found.isEmpty {
            let fd = open(files.path(first: 1, compressed: false), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw files.error(options.directory) }
            close(fd)
            files.syncDirectory()
            found = [(1, false)]
        }
        // Recover the last segment: find its last good record, cut what follows.
        let (nextLSN, repair) = try Self.recover(found.last!, files: files, logger: logger)
        if found.last!.compressed {
            // Sealed without a successor (cannot happen by design, but a copy might): start one.
            let fd = open(files.path(first: nextLSN, compressed: false), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw files.error(options.directory) }
            close(fd)
            found.append((nextLSN, false))
        }
        let segments = found.map { Segment(first: $0.first, compressed: $0.compressed,
                                           bytes: files.size(files.path(first: $0.first, compressed: $0.compressed))) }
        let activePath = files.path(first: segments.last!.first, compressed: false)
        let fd = open(activePath, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw files.error(activePath) }
        recoveredThrough = nextLSN - 1
        firstRecord = recoveredThrough >= segments[0].first ? segments[0].first : nil
        self.repair = repair
        state = Mutex(State(segments: segments, fd: fd, activePath: activePath, nextLSN: nextLSN,
                            totalBytes: segments.reduce(0) { $0 + $1.bytes }))
        logger.info("journal open", metadata: ["directory": "\(options.directory)", "segments": "\(segments.count)",
                                               "last_record": "\(recoveredThrough)", "bytes": "\(segments.reduce(0) { $0 + $1.bytes })"])
    }

    /// Binds the journal to the database `identity` (written to `journal.database`, durably).
    public func bind(to database: String) throws(JournalError) {
        try files.writeAtomically(Array(database.utf8), to: files.databasePath)
    }

    /// What `discard` removed.
    public struct Discarded: Sendable, Equatable {
        public var segments: Int
        public var bytes: Int
    }

    /// Deletes every record of the journal in `directory`, its identity and its binding, so the
    /// next `tickd run` starts a new journal. Refused while a tickd holds the journal.
    public static func discard(directory: String) throws(JournalError) -> Discarded {
        let files = SegmentFiles(directory: directory)
        let lockPath = "\(directory)/journal.lock"
        let lock = open(lockPath, O_RDWR | O_CLOEXEC)
        guard lock >= 0 else { throw files.error(lockPath) }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            throw JournalError(path: directory, message: "in use by a running tickd: stop it first")
        }
        var discarded = Discarded(segments: 0, bytes: 0)
        for segment in try files.list() {
            let path = files.path(first: segment.first, compressed: segment.compressed)
            discarded.bytes += files.size(path)
            guard unlink(path) == 0 else { throw files.error(path) }
            discarded.segments += 1
        }
        unlink(files.databasePath)
        unlink(files.identityPath)
        files.syncDirectory()
        return discarded
    }

    // A pending seal or background fsync holds a reference, so deinit runs once they are done
    // (maybe on one of their threads itself: it must not wait for them, only let them end).
    deinit {
        sealing.shutdown()
        flushing.shutdown()
        state.withLock { s in
            if s.unsynced { _ = fsyncFile(s.fd) }
            close(s.fd)
        }
        close(lockFD)
    }

    /// Scans the last segment; a damaged tail is cut (the file truncated at the last good record).
    private static func recover(_ segment: (first: UInt64, compressed: Bool), files: SegmentFiles,
                                logger: Logger) throws(JournalError) -> (nextLSN: UInt64, repair: String?) {
        let path = files.path(first: segment.first, compressed: segment.compressed)
        var bytes = try files.readAll(path)
        if segment.compressed {
            do { bytes = try Zstd.decompress(bytes) } catch { throw JournalError(path: path, message: "cannot decompress: \(error)") }
        }
        var count: UInt64 = 0
        let (goodEnd, damage) = bytes.withUnsafeBytes { JournalFrame.scan($0, firstLSN: segment.first) { _ in count += 1 } }
        guard let damage else { return (segment.first + count, nil) }
        let repair = "cut \(bytes.count - goodEnd) bytes after record \(segment.first + count - 1) of \(path): \(damage)"
        if segment.compressed {
            logger.error("journal: damaged sealed segment, records after the damage are lost", metadata: ["repair": "\(repair)"])
        } else {
            guard truncate(path, off_t(goodEnd)) == 0 else { throw files.error(path) }
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            if fd >= 0 { fsync(fd); close(fd) }
            logger.warning("journal: torn or corrupt tail cut at the last good record", metadata: ["repair": "\(repair)"])
        }
        return (segment.first + count, repair)
    }

    /// Appends one chunk and returns its record number. The record is in the kernel (and on the
    /// disk with `fsync: always`) when this returns. On failure nothing of it stays in the file:
    /// a disk-full error (`isDiskFull`) can be retried once space is freed.
    public func append(_ chunk: TickChunk) throws(JournalError) -> UInt64 {
        let payload = JournalRecord.encode(chunk)
        return try state.withLock { s throws(JournalError) -> UInt64 in
            try Self.throwSyncFailure(&s)
            let lsn = s.nextLSN
            let frame = JournalFrame.encode(lsn: lsn, payload: payload)
            do throws(JournalError) {
                try files.writeAll(s.fd, frame, path: s.activePath)
            } catch {
                // Leave no partial record behind: cut the file back to where the record began.
                _ = ftruncate(s.fd, off_t(s.segments[s.segments.count - 1].bytes))
                throw error
            }
            s.nextLSN += 1
            s.segments[s.segments.count - 1].bytes += frame.count
            s.totalBytes += frame.count
            s.unsynced = true
            switch options.fsync {
            case .always: try syncLocked(&s)
            case .interval where ContinuousClock.now - s.lastSync >= options.fsyncInterval: try syncInBackground(&s)
            default: break
            }
            if s.segments[s.segments.count - 1].bytes >= options.segmentBytes { try seal(&s) }
            return lsn
        }
    }

    /// Forces appended records to the disk, sealed segments included (at exit). The seals started
    /// so far end first; the fsync runs on the fsync thread, after the background ones queued
    /// before it. Throws `JournalError`.
    public func sync() async throws {
        try await sealing.run {}
        try await flushing.run { [self] in
            try state.withLock { s throws(JournalError) in
                try Self.throwSyncFailure(&s)
                if s.unsynced { try syncLocked(&s) }
            }
        }
    }

    /// With `fsync: interval`, forces appended records to the disk when the interval has passed
    /// since the last fsync (the daemon calls it while idle; appends do it while busy).
    public func syncIfDue() throws(JournalError) {
        guard options.fsync == .interval else { return }
        try state.withLock { s throws(JournalError) in
            guard s.unsynced, ContinuousClock.now - s.lastSync >= options.fsyncInterval else { return }
            try syncInBackground(&s)
        }
    }

    /// Throws (once) what a background fsync failed with.
    private static func throwSyncFailure(_ s: inout State) throws(JournalError) {
        guard let failure = s.syncFailure else { return }
        s.syncFailure = nil
        throw failure
    }

    private func syncLocked(_ s: inout State) throws(JournalError) {
        guard fsyncFile(s.fd) == 0 else { throw files.error(s.activePath) }
        s.unsynced = false
        s.lastSync = .now
    }

    /// Starts an fsync of what is appended so far on `flushing`, unless one is running. It works
    /// on a duplicate descriptor, so a seal may close the segment's own meanwhile.
    private func syncInBackground(_ s: inout State) throws(JournalError) {
        guard !s.syncing else { return }
        let fd = dup(s.fd)
        guard fd >= 0 else { return try syncLocked(&s) }
        let path = s.activePath
        s.syncing = true
        s.unsynced = false
        s.lastSync = .now
        flushing.execute {
            let failure = self.fsyncFile(fd) == 0 ? nil : self.files.error(path)
            close(fd)
            if let failure { self.logger.error("journal: fsync failed", metadata: ["error": "\(failure)"]) }
            self.state.withLock { s in
                s.syncing = false
                if let failure {
                    s.syncFailure = failure
                    s.unsynced = true
                }
            }
        }
    }

    /// Closes the full segment and starts the next; the full one is fsynced and compressed in the
    /// background (`finishSeal`).
    private func seal(_ s: inout State) throws(JournalError) {
        let old = s.segments[s.segments.count - 1]
        let nextPath = files.path(first: s.nextLSN, compressed: false)
        let fd = open(nextPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw files.error(nextPath) }
        files.syncDirectory()
        let sealedFD = s.fd
        s.fd = fd
        s.activePath = nextPath
        s.unsynced = false   // the sealed file's unsynced records are finishSeal's to sync
        s.segments.append(Segment(first: s.nextLSN, compressed: false, bytes: 0))
        sealing.execute { self.finishSeal(first: old.first, fd: sealedFD) }
    }

    /// Fsyncs a sealed segment, then replaces it by its zstd-compressed copy (a failure to
    /// compress leaves it raw, still readable). A segment released meanwhile is left deleted.
    private func finishSeal(first: UInt64, fd: Int32) {
        let rawPath = files.path(first: first, compressed: false)
        let synced = fsyncFile(fd) == 0
        close(fd)
        if !synced { logger.error("journal: fsync of a sealed segment failed", metadata: ["segment": "\(rawPath)", "error": "\(files.error(rawPath))"]) }
        let zstdPath = files.path(first: first, compressed: true)
        do {
            let compressedBytes = try files.compress(rawPath, to: zstdPath, level: 1)
            let released = state.withLock { s in
                guard let index = s.segments.firstIndex(where: { $0.first == first }) else { return true }
                s.segments[index].compressed = true
                s.totalBytes += compressedBytes - s.segments[index].bytes
                s.segments[index].bytes = compressedBytes
                return false
            }
            // A cursor that listed the raw file reads the compressed one once it is gone.
            unlink(released ? zstdPath : rawPath)
        } catch {
            let released = state.withLock { s in !s.segments.contains { $0.first == first } }
            if !released {
                logger.warning("journal: could not compress a sealed segment; it stays uncompressed",
                               metadata: ["segment": "\(rawPath)", "error": "\(error)"])
            }
        }
    }

    /// Deletes the sealed segments whose every record is at or before `lsn` (applied and published).
    public func release(through lsn: UInt64) {
        delete(detachReleased(through: lsn))
    }

    /// Takes the sealed segments whose every record is at or before `lsn` out of the journal and
    /// returns their files, for `delete`: empty, as after most batches, when no segment is done.
    /// Only the journal's lock is taken, so a caller can skip a hop to an I/O thread for nothing.
    public func detachReleased(through lsn: UInt64) -> [String] {
        state.withLock { s in
            var gone: [String] = []
            while s.segments.count > 1 && s.segments[1].first - 1 <= lsn {
                let segment = s.segments.removeFirst()
                s.totalBytes -= segment.bytes
                gone.append(files.path(first: segment.first, compressed: segment.compressed))
            }
            return gone
        }
    }

    /// Deletes segment files `detachReleased` returned; an unlink can wait on the disk.
    public func delete(_ released: [String]) {
        for path in released { unlink(path) }
    }

    /// True while the journal holds `maxBytes` or more: appends should wait.
    public var isFull: Bool { state.withLock { $0.totalBytes >= options.maxBytes } }

    /// Bytes on disk and segment count now.
    public var usage: (bytes: Int, segments: Int) { state.withLock { ($0.totalBytes, $0.segments.count) } }

    /// A reader of the records after `after` up to `through`, one segment in memory at a time.
    public func cursor(after: UInt64, through: UInt64) -> JournalCursor {
        let segments = state.withLock { $0.segments }
        var ranges: [(path: String, compressed: Bool, first: UInt64)] = []
        for (index, segment) in segments.enumerated() {
            let last = index + 1 < segments.count ? segments[index + 1].first - 1 : UInt64.max
            guard last > after, segment.first <= through else { continue }
            ranges.append((files.path(first: segment.first, compressed: segment.compressed), segment.compressed, segment.first))
        }
        return JournalCursor(segments: ranges, after: after, through: through, files: files, logger: logger)
    }
}

/// Reads journal records in order, loading one segment at a time.
public struct JournalCursor {
    private var segments: ArraySlice<(path: String, compressed: Bool, first: UInt64)>
    private let after: UInt64
    private let through: UInt64
    private let files: SegmentFiles
    private let logger: Logger
    private var records: [(UInt64, Range<Int>)] = []
    private var bytes: [UInt8] = []
    private var index = 0
    private var path = ""

    init(segments: [(path: String, compressed: Bool, first: UInt64)], after: UInt64, through: UInt64,
         files: SegmentFiles, logger: Logger) {
        self.segments = segments[...]
        self.after = after
        self.through = through
        self.files = files
        self.logger = logger
    }

    /// The next record, nil after the last. A damaged segment is logged and its later records
    /// skipped (they are lost; nothing else is).
    public mutating func next() throws -> (UInt64, TickChunk)? {
        while index == records.count {
            guard let segment = segments.popFirst() else { return nil }
            path = segment.path
            var compressed = segment.compressed
            if !compressed, let raw = try? files.readAll(segment.path) {
                bytes = raw
            } else {
                // A raw segment gone since the cursor was made was compressed in the background.
                compressed = true
                path = files.path(first: segment.first, compressed: true)
                bytes = try files.readAll(path)
            }
            if compressed { bytes = try Zstd.decompress(bytes) }
            records.removeAll(keepingCapacity: true)
            index = 0
            let (after, through) = (self.after, self.through)
            var found: [(UInt64, Range<Int>)] = []
            let (_, damage) = bytes.withUnsafeBytes { raw in
                JournalFrame.scan(raw, firstLSN: segment.first) { frame in
                    if frame.lsn > after && frame.lsn <= through { found.append((frame.lsn, frame.payload)) }
                }
            }
            records = found
            if let damage, !segments.isEmpty {
                logger.error("journal: damaged sealed segment, its later records are lost",
                             metadata: ["segment": "\(segment.path)", "damage": "\(damage)"])
            }
        }
        let (lsn, range) = records[index]
        index += 1
        let chunk = bytes.withUnsafeBytes { JournalRecord.decode(UnsafeRawBufferPointer(rebasing: $0[range])) }
        guard let chunk else {
            throw JournalError(path: path, message: "record \(lsn) has a good checksum but cannot be decoded")
        }
        return (lsn, chunk)
    }
}
