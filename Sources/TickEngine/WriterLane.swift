import Foundation
import TickSinks

/// One database writer: a `PostgresSink` (its own connection) on a thread of its own, so libpq's
/// blocking calls never run on Swift's cooperative pool. Jobs run one at a time, in the order they
/// were given. `submit` lets at most `depth` batches wait or run (backpressure on the pipeline);
/// `perform` runs a one-off call (a position read, the listing) between batches.
public final class WriterLane: @unchecked Sendable {
    public let index: Int
    // Used only on the lane's thread.
    private let sink: PostgresSink
    // The rules (`WriterLaneState`), guarded by `condition`; continuations resume outside it.
    private let condition = NSCondition()
    private var state: WriterLaneState<CheckedContinuation<Void, Never>, () -> Void>
    private var freed: (@Sendable () -> Void)?

    public init(index: Int, sink: PostgresSink, depth: Int = 2) {
        self.index = index
        self.sink = sink
        state = WriterLaneState(depth: depth)
        let thread = Thread { [self] in loop() }
        thread.name = "tickd-writer-\(index)"
        thread.start()
    }

    /// Queues `job` on the lane's thread after waiting (suspended, not blocking) while `depth`
    /// batches are already queued or running. `job` counts as one batch until it returns.
    public func submit(_ job: @escaping @Sendable (PostgresSink) -> Void) async {
        while true {
            let queued: Bool = condition.withLock {
                let queued = state.submitBatch { [self] in
                    job(sink)
                    batchDone()
                }
                if queued { condition.broadcast() }
                return queued
            }
            if queued { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = condition.withLock { state.parkForRoom(continuation) }
                if !parked { continuation.resume() }
            }
        }
    }

    /// Runs `body` on the lane's thread, after the batches queued before it, and returns its result.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (PostgresSink) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = condition.withLock {
                let accepted = state.perform { [sink] in continuation.resume(with: Result { try body(sink) }) }
                if accepted { condition.broadcast() }
                return accepted
            }
            if !accepted { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Whether no batch is queued or running: a batch closed now would start at once.
    public var isFree: Bool { condition.withLock { state.batches == 0 } }

    /// Calls `body` (on the lane's thread) each time the lane's last batch is done.
    public func whenFree(_ body: @escaping @Sendable () -> Void) {
        condition.withLock { freed = body }
    }

    /// Suspends until every batch submitted so far has run.
    public func idle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let parked = condition.withLock { state.parkUntilIdle(continuation) }
            if !parked { continuation.resume() }
        }
    }

    /// Ends the thread once the queued jobs have run.
    public func stop() {
        condition.withLock {
            state.stop()
            condition.broadcast()
        }
    }

    private func loop() {
        while true {
            condition.lock()
            var next = state.next()
            while case .wait = next {
                condition.wait()
                next = state.next()
            }
            condition.unlock()
            switch next {
            case .run(let job):
                job()
            case .end(let waiters):
                waiters.forEach { $0.resume() }
                return
            case .wait:
                break
            }
        }
    }

    private func batchDone() {
        let (waiters, freed): ([CheckedContinuation<Void, Never>], (@Sendable () -> Void)?) = condition.withLock {
            let (waiters, free) = state.batchDone()
            return (waiters, free ? self.freed : nil)
        }
        waiters.forEach { $0.resume() }
        freed?()
    }
}
