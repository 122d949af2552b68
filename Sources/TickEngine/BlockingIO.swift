import Blocking
import Synchronization

/// Threads for the blocking calls of the pipeline (`tickd run` and `tickd replay`), so that none
/// runs on Swift's cooperative pool: connecting the writer lanes, file opens and reads, journal
/// appends, fsyncs and segment deletion, dead-letter writes, the wait for the Redis publisher to
/// drain. Two `BlockingExecutor`s; each call goes to the one with less work in hand, so that one
/// slow fsync does not hold up a dead-letter flush.
public struct BlockingIO: Sendable {
    let executors: [BlockingExecutor]
    private let load: Exclusive<[Int]>

    public static func start() -> BlockingIO {
        BlockingIO(executors: (0..<2).map { BlockingExecutor(name: "tickd-io-\($0)") }, load: Exclusive([0, 0]))
    }

    /// Runs `body` on one of the threads and returns its result. A task cancelled before `body`
    /// starts gets `CancellationError` and `body` does not run (as `NIOThreadPool.runIfActive`):
    /// that is how a cancelled service group ends the pipeline's loop.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try Task.checkCancellation()
        let index = pick()
        defer { load.withLock { $0[index] -= 1 } }
        let cancelled = Exclusive(false)
        return try await withTaskCancellationHandler {
            try await executors[index].run {
                if cancelled.withLock({ $0 }) { throw CancellationError() }
                return try body()
            }
        } onCancel: {
            cancelled.withLock { $0 = true }
        }
    }

    /// Runs `body` on one of the threads without waiting for it.
    public func submit(_ body: @escaping @Sendable () -> Void) {
        let index = pick()
        executors[index].execute { [load] in
            body()
            load.withLock { $0[index] -= 1 }
        }
    }

    private func pick() -> Int {
        load.withLock { load in
            let index = load[0] <= load[1] ? 0 : 1
            load[index] += 1
            return index
        }
    }

    public func shutdown() async {
        for executor in executors { await executor.shutdownGracefully() }
    }
}
