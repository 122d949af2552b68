import Dispatch

/// Runs async work from a thread that is not part of Swift's concurrency (librdkafka's rebalance
/// callbacks, the Kafka feed's own thread) and blocks that thread until the work is done. Never
/// call it from a task: it would hold one of the cooperative pool's few threads.
public enum BlockingWait {
    public static func run(_ body: @escaping @Sendable () async -> Void) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await body()
            done.signal()
        }
        done.wait()
    }
}
