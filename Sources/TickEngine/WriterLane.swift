import Blocking
import Synchronization
import TickSinks

/// One database writer: a `PostgresSink` (its own connection) owned by a `BlockingExecutor`, so
/// libpq's blocking calls never run on Swift's cooperative pool. Jobs run one at a time, in the
/// order they were given. `submit` lets at most `depth` batches wait or run (backpressure on the
/// pipeline); `perform` runs a one-off call (a position read, the listing) between batches.
public actor WriterLane {
    public nonisolated let index: Int
    private nonisolated let executor: BlockingExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private let sink: PostgresSink
    /// The rules (`WriterLaneState`) and whom to tell when the lane becomes free. A struct, not a
    /// tuple: a closure inside a tuple in a `Mutex` is re-wrapped by every `withLock` (a thunk per
    /// access, so calling it grew slower with every batch).
    private struct Shared {
        var rules: WriterLaneState<CheckedContinuation<Void, Never>>
        var freed: (@Sendable () -> Void)?
    }
    private nonisolated let state: Mutex<Shared>

    public init(index: Int, sink: PostgresSink, depth: Int = 2) {
        self.index = index
        self.sink = sink
        executor = BlockingExecutor(name: "tickd-writer-\(index)")
        state = Mutex(Shared(rules: WriterLaneState(depth: depth), freed: nil))
    }

    /// Queues `job` on the lane's thread after waiting (suspended, not blocking) while `depth`
    /// batches are already queued or running. `job` counts as one batch until it returns.
    public nonisolated func submit(_ job: @escaping @Sendable (PostgresSink) -> Void) async {
        while true {
            if state.withLock({ $0.rules.submitBatch() }) {
                let queued = executor.execute { [self] in
                    assumeIsolated { lane in job(lane.sink) }
                    batchDone()
                }
                // A lane already stopped runs nothing more; no one may wait for that batch.
                if !queued { batchDone() }
                return
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                if !state.withLock({ $0.rules.parkForRoom(continuation) }) { continuation.resume() }
            }
        }
    }

    /// Runs `body` on the lane's thread, after the batches queued before it, and returns its result.
    public nonisolated func perform<T: Sendable>(_ body: @escaping @Sendable (PostgresSink) throws -> T) async throws -> T {
        try await executor.run { [self] in try assumeIsolated { lane in try body(lane.sink) } }
    }

    /// Whether no batch is queued or running: a batch closed now would start at once.
    public nonisolated var isFree: Bool { state.withLock { $0.rules.batches == 0 } }

    /// Calls `body` (on the lane's thread) each time the lane's last batch is done.
    public nonisolated func whenFree(_ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.freed = body }
    }

    /// Suspends until every batch submitted so far has run.
    public nonisolated func idle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !state.withLock({ $0.rules.parkUntilIdle(continuation) }) { continuation.resume() }
        }
    }

    /// Ends the thread once the queued jobs have run.
    public nonisolated func stop() {
        state.withLock { $0.rules.stop() }.forEach { $0.resume() }
        executor.shutdown()
    }

    private nonisolated func batchDone() {
        let (waiters, freed) = state.withLock { state in
            let (waiters, free) = state.rules.batchDone()
            return (waiters, free ? state.freed : nil)
        }
        waiters.forEach { $0.resume() }
        freed?()
    }
}
