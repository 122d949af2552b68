import Blocking
import Synchronization

/// Tells a task that a batch committed, so that it can look at the database again instead of
/// polling it (a Kafka revocation waiting for what it read of its partitions).
public final class CommitNotices: Sendable {
    private struct Notices {
        var count = 0
        var waiters = SuspendedTasks<Void, Void>()
    }
    private let state = Mutex(Notices())

    public init() {}

    /// How many commits were noted so far.
    public var count: Int { state.withLock { $0.count } }

    /// A batch committed (the pipeline's `onCommitted`).
    public func committed() {
        let waiters = state.withLock { state in
            state.count += 1
            return state.waiters.removeAll()
        }
        waiters.forEach { $0.resume() }
    }

    /// Suspends until a commit after the `seen`-th, or `deadline`, or the task's cancellation.
    public func waitForCommit(after seen: Int, until deadline: ContinuousClock.Instant) async {
        await suspend(until: deadline, ready: (), timedOut: (), park: { [self] continuation in
            state.withLock { state in state.count > seen ? nil : state.waiters.add(continuation, tag: ()) }
        }, withdraw: { [self] id in
            state.withLock { $0.waiters.remove(id) }
        })
    }
}
