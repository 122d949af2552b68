import Blocking
import Synchronization
import TickSinks

/// One database writer: a `PostgresSink` (its own connection) owned by an actor on a
/// `BlockingExecutor`, so libpq's blocking calls never run on Swift's cooperative pool.
///
/// `submit` queues a batch's job, letting at most `depth` batches wait or run (backpressure on
/// the pipeline); `serve`, run by the pipeline as a child task, runs them one at a time in the
/// order they were submitted. A job suspends while its commit waits out a retry's backoff, and
/// the batches behind it wait for it. `perform` runs a one-off call (a position read, the
/// listing) on the lane, between batches or while one waits out a backoff.
public actor WriterLane {
    public nonisolated let index: Int
    private nonisolated let executor: BlockingExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    /// The lane's connection: only code isolated to the lane (its jobs, `perform`) touches it.
    public let sink: PostgresSink

    /// A batch's work, on the lane.
    public typealias Job = @Sendable (isolated WriterLane) async -> Void

    /// The rules (`WriterLaneState`) and whom to tell when the lane becomes free. A struct, not a
    /// tuple: a closure inside a tuple in a `Mutex` is re-wrapped by every `withLock` (a thunk per
    /// access, so calling it grew slower with every batch).
    private struct Shared {
        var rules: WriterLaneState<CheckedContinuation<Void, Never>, Job>
        var freed: (@Sendable () -> Void)?
    }
    private nonisolated let state: Mutex<Shared>

    public init(index: Int, sink: PostgresSink, depth: Int = 2) {
        self.index = index
        self.sink = sink
        executor = BlockingExecutor(name: "tickd-writer-\(index)")
        state = Mutex(Shared(rules: WriterLaneState(depth: depth), freed: nil))
    }

    /// Queues `job` after waiting (suspended, not blocking) while `depth` batches are already
    /// queued or running. `job` counts as one batch until it returns. A lane whose serving ended
    /// or that was stopped runs nothing more, and no one waits for that batch: false.
    @discardableResult
    public nonisolated func submit(_ job: @escaping Job) async -> Bool {
        while true {
            switch state.withLock({ $0.rules.submit(job) }) {
            case .queued(let wake):
                wake?.resume()
                return true
            case .dropped: return false
            case .full: break
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                if !state.withLock({ $0.rules.parkForRoom(continuation) }) { continuation.resume() }
            }
        }
    }

    /// Runs the submitted batches, oldest first, until `endServing` (or the task's cancellation,
    /// which ends the serving: batches not yet taken are dropped, as after a crash).
    public func serve() async {
        while true {
            if Task.isCancelled { endServing() }
            if let job = state.withLock({ $0.rules.takeJob() }) {
                await job(self)
                batchDone()
                continue
            }
            if state.withLock({ $0.rules.ended }) { return }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    if !state.withLock({ $0.rules.parkServer(continuation) }) { continuation.resume() }
                }
            } onCancel: {
                endServing()
            }
        }
    }

    /// Ends the serving: `serve` returns once the batch in hand (if any) is done; batches not yet
    /// taken are dropped and count as done.
    public nonisolated func endServing() {
        state.withLock { $0.rules.end() }.forEach { $0.resume() }
    }

    /// Runs `body` on the lane and returns its result: between batches, or while one waits out a
    /// retry's backoff. Throws `CancellationError` once the lane is stopped.
    public nonisolated func perform<T: Sendable>(_ body: @Sendable (isolated WriterLane) async throws -> T) async throws -> T {
        guard !state.withLock({ $0.rules.stopping }) else { throw CancellationError() }
        return try await run(body)
    }

    private func run<T: Sendable>(_ body: @Sendable (isolated WriterLane) async throws -> T) async throws -> T {
        try await body(self)
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

    /// Ends the thread once the work given to it has run; the lane takes no more.
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
