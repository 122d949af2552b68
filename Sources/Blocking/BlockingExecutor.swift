import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// tickd's one way to run blocking work: a serial executor that owns one C handle (a libpq
/// connection, a hiredis context, a librdkafka consumer, a journal's files) on a thread of its
/// own, SwiftNIO's: a one-thread `MultiThreadedEventLoopGroup`, whose event loop is a
/// `SerialExecutor` with FIFO tasks and timers. No socket is ever registered on it; it only runs
/// what is given here, and that may block.
///
/// Blocking calls (a commit, an fsync, `rd_kafka_consumer_poll`) so never run on Swift's
/// cooperative pool, whose two threads on a two-core machine every connection's task needs. Work
/// reaches the thread three ways, all run one at a time in the order they were given:
/// - as an actor's jobs: an actor whose `unownedExecutor` is this executor's runs every method on
///   the thread (`checkIsolated` lets `assumeIsolated` work from `execute`);
/// - as closures, `execute` (fire and forget) and `run` (awaited, returns a result);
/// - as timers, `schedule(after:)`: a backoff or a periodic check costs no sleeping thread and
///   is dropped by `shutdown`.
///
/// Nothing here waits on a lock or a condition of its own, and nothing in tickd blocks a thread
/// to wait for async work: a caller that must wait for the handle's work suspends (`run`, an
/// actor's method), and so does the handle's owner when it waits for anything else.
public final class BlockingExecutor: Sendable {
    public let name: String
    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    /// Set by `shutdown`; guards every hand-over to the loop, so that nothing is given to a loop
    /// that is closing (NIO drops such work with an error).
    private let stopping = Mutex(false)

    /// Starts the thread; it runs until `shutdown()`.
    public init(name: String) {
        self.name = name
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        // The thread's name in `top -H`, `perf` and core dumps. Linux refuses a name over 15
        // bytes (and NIO's own name stays), so a long one is shortened.
        let short = String(decoding: name.utf8.prefix(15), as: UTF8.self)
        loop.execute { Thread.current.name = short }
    }

    /// The executor for an actor that owns this executor's handle (its `unownedExecutor`).
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        loop.executor.asUnownedSerialExecutor()
    }

    /// Whether the caller runs on this executor's thread.
    public var isCurrent: Bool { loop.inEventLoop }

    /// Runs `body` on the thread after the work given before it; returns at once. False when the
    /// executor is shut down (`body` is dropped).
    @discardableResult
    public func execute(_ body: @escaping @Sendable () -> Void) -> Bool {
        stopping.withLock { stopping in
            if stopping { return false }
            loop.execute(body)
            return true
        }
    }

    /// Runs `body` on the thread and returns its result (or its error); `CancellationError` when
    /// the executor is shut down.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            if !execute({ continuation.resume(with: Result { try body() }) }) {
                continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// Runs `body` on the thread once `delay` has passed (never, after `shutdown`). The returned
    /// value cancels it.
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> Scheduled {
        stopping.withLock { stopping in
            if stopping { return Scheduled(task: nil) }
            return Scheduled(task: loop.scheduleTask(in: .nanoseconds(delay.nanosecondsClamped)) { body() })
        }
    }

    /// A timer set by `schedule(after:)`.
    public struct Scheduled: Sendable {
        let task: NIOCore.Scheduled<Void>?

        /// Drops the timer if it has not run yet.
        public func cancel() { task?.cancel() }

        /// False when the executor was shut down already: the timer will never run.
        public var isSet: Bool { task != nil }
    }

    /// Ends the thread once the work given so far has run; timers not yet due are dropped. Work
    /// given after this is refused: `run` throws `CancellationError`, `execute` returns false (an
    /// actor on a stopped executor must not be called: its job would be dropped).
    public func shutdown() {
        let first = stopping.withLock { stopping in
            defer { stopping = true }
            return !stopping
        }
        // NIO runs the tasks queued before the close, and fails the timers.
        if first { group.shutdownGracefully { _ in } }
    }

    /// `shutdown`, then suspends until the work given before it has run.
    public func shutdownGracefully() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !execute({ continuation.resume() }) { continuation.resume() }
            shutdown()
        }
    }
}

extension Duration {
    /// Whole nanoseconds, at most `Int64.max` (a timer years away is as good as never).
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        guard seconds < Int64.max / 1_000_000_000 - 1 else { return .max }
        return max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

