import CoreMetrics
import Logging
import Synchronization
import TickEngine
import TickJournal
import TickNormalisation

/// Where live (TCP) chunks enter the pipeline: each is appended to the journal first — only then
/// is it received — and queued after. While the journal is over its size bound or its disk is
/// full, delivery waits, so the source stops reading (TCP flow control slows the publisher);
/// nothing is dropped and the journal stays whole. One error line per pause, one when it ends.
final class JournalGate: Sendable {
    let journal: Journal
    let queue: TickQueue
    let io: BlockingIO
    let logger: Logger
    private let paused = Mutex<String?>(nil)
    /// Ticks journaled so far: a pause's log line says how many, all of which are stored in time
    /// while none read after them is.
    private let journaledTicks = Atomic<Int>(0)
    /// `tickd_journal_ticks_total`: ticks appended to the journal (so safe from a crash).
    private let journaled = Counter(label: "tickd_journal_ticks_total")

    init(journal: Journal, queue: TickQueue, io: BlockingIO, logger: Logger) {
        self.journal = journal
        self.queue = queue
        self.io = io
        self.logger = logger
    }

    /// Journals and queues `chunk`; false when tickd is shutting down and took none of it.
    func deliver(_ chunk: TickChunk) async -> Bool {
        var chunk = chunk
        while true {
            if queue.isFinished || Task.isCancelled { return false }
            if journal.isFull {
                pause("journal: over journal.max_bytes; not reading live feeds until applied segments are deleted",
                      ["max_bytes": "\(journal.options.maxBytes)", "directory": "\(journal.options.directory)"])
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            do {
                chunk.journalRecord = try await append(chunk)
                journaledTicks.add(chunk.ticks.count, ordering: .relaxed)
                journaled.increment(by: Int64(chunk.ticks.count))
                break
            } catch let error as JournalError {
                pause(error.isDiskFull ? "journal: disk full; not reading live feeds until space is freed"
                                       : "journal: cannot write; not reading live feeds until it can",
                      ["path": "\(error.path)", "error": "\(error.message)", "directory": "\(journal.options.directory)",
                       "journaled_ticks": "\(journaledTicks.load(ordering: .relaxed))"])
                try? await Task.sleep(for: .milliseconds(500))
            } catch {
                return false   // the I/O threads are gone: tickd is stopping
            }
        }
        resume()
        return await queue.send(chunk)
    }

    /// Appends `chunk` and returns its record number. A chunk of a few ticks (a live feed at an
    /// exchange's pace) is a small write(2) into the page cache, done where the chunk is: the hop
    /// to an I/O thread and back cost more than the write. A bigger one (a fast feed) is encoded
    /// and written on an I/O thread, off the cooperative pool that batches the ticks; so is every
    /// append with `journal.fsync: always`, which waits for the disk.
    private func append(_ chunk: TickChunk) async throws -> UInt64 {
        if journal.options.fsync != .always && chunk.ticks.count <= Self.appendInPlaceTicks { return try journal.append(chunk) }
        return try await io.run { [journal] in try journal.append(chunk) }
    }

    /// The most ticks a chunk appended in place holds.
    static let appendInPlaceTicks = 16

    private func pause(_ message: String, _ metadata: Logger.Metadata) {
        let first = paused.withLock { current -> Bool in
            defer { current = message }
            return current != message
        }
        if first { logger.error("\(message)", metadata: metadata) }
    }

    private func resume() {
        let was = paused.withLock { current -> String? in
            defer { current = nil }
            return current
        }
        if was != nil { logger.notice("journal: writing again; reading live feeds") }
    }
}
