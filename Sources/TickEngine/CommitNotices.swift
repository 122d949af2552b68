import Synchronization

/// Tells a task that a batch committed, so that it can look at the database again instead of
/// polling it (a Kafka revocation waiting for what it read of its partitions).
public final class CommitNotices: Sendable {
    private struct Notices {
        var count = 0
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
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
            return state.waiters.values
        }
        waiters.forEach { $0.resume() }
    }

    /// Suspends until a commit after the `seen`-th, or `deadline`, or the task's cancellation.
    public func waitForCommit(after seen: Int, until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(until: deadline) }
            group.addTask { await self.nextCommit(after: seen) }
            await group.next()
            group.cancelAll()
        }
    }

    private func nextCommit(after seen: Int) async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let already = state.withLock { state in
                    // Cancelled before it was parked: the handler found nothing to resume.
                    if state.count > seen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if already { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
