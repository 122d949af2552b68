import DequeModule
import Foundation
import TickSinks

/// One database writer: a `PostgresSink` (its own connection) on a thread of its own, so libpq's
/// blocking calls never run on Swift's cooperative pool. Jobs run one at a time, in the order they
/// were given. `submit` lets at most `depth` batches wait or run (backpressure on the pipeline);
/// `perform` runs a one-off call (a position read, the listing) between batches.
public final class WriterLane: @unchecked Sendable {
    public let index: Int
    private let depth: Int
    // Used only on the lane's thread.
    private let sink: PostgresSink
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs = Deque<() -> Void>()
    private var batches = 0
    private var stopping = false
    private var stopped = false
    private var roomWaiters: [CheckedContinuation<Void, Never>] = []
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var freed: (@Sendable () -> Void)?

    public init(index: Int, sink: PostgresSink, depth: Int = 2) {
        self.index = index
        self.sink = sink
        self.depth = depth
        let thread = Thread { [self] in loop() }
        thread.name = "tickd-writer-\(index)"
        thread.start()
    }

    /// Queues `job` on the lane's thread after waiting (suspended, not blocking) while `depth`
    /// batches are already queued or running. `job` counts as one batch until it returns.
    public func submit(_ job: @escaping @Sendable (PostgresSink) -> Void) async {
        while true {
            let queued: Bool = condition.withLock {
                guard batches < depth || stopping else { return false }
                batches += 1
                jobs.append { [self] in
                    job(sink)
                    batchDone()
                }
                condition.broadcast()
                return true
            }
            if queued { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = condition.withLock {
                    if batches < depth || stopping { return true }
                    roomWaiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    /// Runs `body` on the lane's thread, after the batches queued before it, and returns its result.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (PostgresSink) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = condition.withLock {
                guard !stopped else { return false }
                jobs.append { [sink] in continuation.resume(with: Result { try body(sink) }) }
                condition.broadcast()
                return true
            }
            if !accepted { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Whether no batch is queued or running: a batch closed now would start at once.
    public var isFree: Bool { condition.withLock { batches == 0 } }

    /// Calls `body` (on the lane's thread) each time the lane's last batch is done.
    public func whenFree(_ body: @escaping @Sendable () -> Void) {
        condition.withLock { freed = body }
    }

    /// Suspends until every batch submitted so far has run.
    public func idle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = condition.withLock {
                if batches == 0 { return true }
                idleWaiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Ends the thread once the queued jobs have run.
    public func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            guard let job = jobs.popFirst() else {
                stopped = true
                let waiters = roomWaiters + idleWaiters
                roomWaiters.removeAll()
                idleWaiters.removeAll()
                condition.unlock()
                waiters.forEach { $0.resume() }
                return
            }
            condition.unlock()
            job()
        }
    }

    private func batchDone() {
        let (waiters, freed): ([CheckedContinuation<Void, Never>], (@Sendable () -> Void)?) = condition.withLock {
            batches -= 1
            var waiters = roomWaiters
            roomWaiters.removeAll()
            guard batches == 0 else { return (waiters, nil) }
            waiters += idleWaiters
            idleWaiters.removeAll()
            return (waiters, self.freed)
        }
        waiters.forEach { $0.resume() }
        freed?()
    }
}
