import Blocking
import Synchronization

/// Tells a blocking thread that a batch committed, so that it can look at the database again
/// instead of polling it (a Kafka rebalance waiting for what it read of its partitions).
public final class CommitNotices: Sendable {
    private struct Notices {
        var count = 0
        var waiters: [@Sendable () -> Void] = []
    }
    private let state = Mutex(Notices())

    public init() {}

    /// How many commits were noted so far.
    public var count: Int { state.withLock { $0.count } }

    /// A batch committed (the pipeline's `onCommitted`).
    public func committed() {
        let waiters = state.withLock { state in
            state.count += 1
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        waiters.forEach { $0() }
    }

    /// Blocks the calling blocking thread until a commit after the `seen`-th, or `deadline`.
    public func waitForCommit(after seen: Int, until deadline: ContinuousClock.Instant) {
        _ = BlockingExecutor.park(until: deadline) { resume in
            let already = state.withLock { state in
                if state.count > seen { return true }
                state.waiters.append(resume)
                return false
            }
            if already { resume() }
        }
    }
}
