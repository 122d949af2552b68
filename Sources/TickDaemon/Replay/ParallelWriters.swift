import Foundation
import TickModel
import TickPipeline
import TickSinks

/// The database writers of a replay: one `PostgresSink` (its own connection) per writer, each on a
/// thread of its own, so that PostgreSQL works on several batches at once while the replay goes
/// on parsing. Symbols are partitioned across writers by a stable hash, so one symbol's ticks —
/// its seq numbers, its latest price — always go through the same writer, in order, and two
/// writers' transactions never touch the same rows. Each writer takes at most two batches ahead
/// (backpressure); its committed batches go to the Redis publisher from its thread.
final class ParallelWriters: @unchecked Sendable {
    struct Job {
        var batch: [KeyedTick]
        var progress: BatchProgress
    }

    let sinks: [PostgresSink]
    private let publisher: RedisPublisher?
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queues: [[Job]]
    private var busy: [Bool]
    private var results: [BatchResult] = []
    private var failure: Error?
    private var stopping = false
    private var running = 0

    init(sinks: [PostgresSink], publisher: RedisPublisher?) {
        precondition(!sinks.isEmpty)
        self.sinks = sinks
        self.publisher = publisher
        queues = Array(repeating: [], count: sinks.count)
        busy = Array(repeating: false, count: sinks.count)
        for index in sinks.indices {
            running += 1
            let thread = Thread { [self] in loop(index) }
            thread.name = "tickd-writer-\(index)"
            thread.start()
        }
    }

    var count: Int { sinks.count }

    /// The writer of `symbol` (FNV-1a of its bytes, so the same in every run).
    func writer(of symbol: Symbol) -> Int {
        guard sinks.count > 1 else { return 0 }
        return Int(FNV1a.hash(symbol.rawValue.utf8) % UInt64(sinks.count))
    }

    /// Queues a batch for writer `index`, waiting while it has two pending. Throws the first
    /// failure of any writer.
    func submit(_ job: Job, to index: Int) throws {
        condition.lock()
        defer { condition.unlock() }
        while queues[index].count >= 2 && failure == nil { condition.wait() }
        if let failure { throw failure }
        queues[index].append(job)
        condition.broadcast()
    }

    /// The batches committed since the last call, in commit order per writer.
    func takeResults() throws -> [BatchResult] {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        defer { results.removeAll() }
        return results
    }

    /// Waits until every queued batch is committed; returns the results not yet taken.
    func drain() throws -> [BatchResult] {
        condition.lock()
        while failure == nil && (queues.contains { !$0.isEmpty } || busy.contains(true)) { condition.wait() }
        condition.unlock()
        return try takeResults()
    }

    /// Stops the threads (after `drain`, or on failure).
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func loop(_ index: Int) {
        condition.lock()
        while true {
            while queues[index].isEmpty && !stopping { condition.wait() }
            if queues[index].isEmpty || failure != nil { break }
            let job = queues[index].removeFirst()
            busy[index] = true
            condition.unlock()
            let outcome = Result { try sinks[index].write(job.batch, progress: job.progress) }
            if case .success(let result) = outcome, let publisher {
                publisher.waitForRoom(for: result.stored.count)
                publisher.enqueue(result)
            }
            condition.lock()
            busy[index] = false
            switch outcome {
            case .success(let result): results.append(result)
            case .failure(let error): if failure == nil { failure = error }
            }
            condition.broadcast()
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }
}
