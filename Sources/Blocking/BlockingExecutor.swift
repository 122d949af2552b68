import Foundation

/// tickd's one way to run blocking work: a serial executor on a dedicated thread, owning one C
/// handle (a libpq connection, a hiredis context, a librdkafka consumer, a journal's files).
///
/// Blocking calls (a commit, an fsync, `rd_kafka_consumer_poll`) never run on Swift's cooperative
/// pool, whose two threads on a two-core machine every connection's task needs. Work reaches the
/// thread three ways, all run one at a time in the order they were given:
/// - as an actor's jobs: an actor whose `unownedExecutor` is this executor runs every method on
///   the thread (`SerialExecutor`; `checkIsolated` lets `assumeIsolated` work from `execute`);
/// - as closures, `execute` (fire and forget, FIFO) and `run` (awaited, returns a result);
/// - as timers, `schedule(after:)`: the thread's wait for work has a deadline, so a backoff or a
///   periodic check costs no sleeping thread and is cancelled by `shutdown`.
///
/// This type and `Latch` are the only places in tickd that hold a thread, a condition variable
/// or a blocking wait (docs/decisions.md, "One primitive for blocking work").
public final class BlockingExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    public let name: String

    private enum Work {
        case job(UnownedJob)
        case closure(() -> Void)
    }

    private struct Timer {
        let id: UInt64
        let deadline: ContinuousClock.Instant
        let body: () -> Void
    }

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var work: [Work] = []
    private var head = 0
    private var timers: [Timer] = []
    private var nextTimer: UInt64 = 0
    private var stopping = false

    /// The executor whose thread is running the caller, if any.
    private static let current = ThreadLocal()

    /// Starts the thread; it runs until `shutdown()`.
    public init(name: String) {
        self.name = name
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    // MARK: - Serial and task executor

    public func enqueue(_ job: consuming ExecutorJob) {
        push(.job(UnownedJob(job)))
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Called by `assumeIsolated` and `preconditionIsolated` when the runtime cannot tell:
    /// passes only on this executor's thread.
    public func checkIsolated() {
        precondition(isCurrent, "not on the blocking executor \(name)")
    }

    /// Whether the caller runs on this executor's thread.
    public var isCurrent: Bool { Self.current.value === self }

    // MARK: - Closures and timers

    /// Runs `body` on the thread after the work given before it; returns at once. False when the
    /// executor is shut down (`body` is dropped).
    @discardableResult
    public func execute(_ body: @escaping @Sendable () -> Void) -> Bool {
        push(.closure(body))
    }

    /// Runs `body` on the thread and returns its result (or its error).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            if !push(.closure { continuation.resume(with: Result { try body() }) }) {
                continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// Runs `body` on the thread once `delay` has passed (never, after `shutdown`). The returned
    /// value cancels it.
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> Scheduled {
        let deadline = ContinuousClock.now + delay
        condition.lock()
        defer { condition.unlock() }
        nextTimer += 1
        let timer = Timer(id: nextTimer, deadline: deadline, body: body)
        let index = timers.firstIndex { $0.deadline > deadline } ?? timers.endIndex
        timers.insert(timer, at: index)
        condition.signal()
        return Scheduled(executor: self, id: timer.id)
    }

    /// A timer set by `schedule(after:)`.
    public struct Scheduled: Sendable {
        let executor: BlockingExecutor
        let id: UInt64

        /// Drops the timer if it has not run yet.
        public func cancel() {
            executor.condition.lock()
            executor.timers.removeAll { $0.id == id }
            executor.condition.unlock()
        }
    }

    /// Ends the thread once the work given so far has run; timers not yet due are dropped. Work
    /// given after this is refused: `run` throws `CancellationError`, `execute` returns false (an
    /// actor on a stopped executor must not be called: its job would be dropped).
    public func shutdown() {
        condition.lock()
        stopping = true
        timers.removeAll()
        condition.signal()
        condition.unlock()
    }

    /// `shutdown`, then suspends until the work given before it has run.
    public func shutdownGracefully() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !push(.closure { continuation.resume() }) { continuation.resume() }
            shutdown()
        }
    }

    @discardableResult
    private func push(_ item: Work) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        work.append(item)
        condition.signal()
        return true
    }

    private func loop() {
        Self.current.value = self
        condition.lock()
        while true {
            if head < work.count {
                let item = work[head]
                head += 1
                if head == work.count || head > 1024 && head * 2 > work.count {
                    work.removeFirst(head)
                    head = 0
                }
                condition.unlock()
                switch item {
                case .job(let job):
                    job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
                case .closure(let body):
                    body()
                }
                condition.lock()
                continue
            }
            if stopping { break }
            if let first = timers.first {
                if first.deadline <= .now {
                    timers.removeFirst()
                    condition.unlock()
                    first.body()
                    condition.lock()
                } else {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: (first.deadline - .now).seconds))
                }
            } else {
                condition.wait()
            }
        }
        condition.unlock()
        Self.current.value = nil
    }
}

// MARK: - Blocking waits, on a blocking executor's thread only

extension BlockingExecutor {
    /// Blocks the calling blocking thread until `register`'s `resume` is called (by any thread,
    /// once): how a writer lane waits for room in the Redis backlog, which is backpressure by
    /// design. Never call it from a task on the cooperative pool.
    public static func park(_ register: (_ resume: @escaping @Sendable () -> Void) -> Void) {
        let latch = Latch()
        register { latch.open() }
        latch.wait()
    }

    /// As `park`, but gives up at `deadline`; true when resumed before it.
    public static func park(until deadline: ContinuousClock.Instant, _ register: (_ resume: @escaping @Sendable () -> Void) -> Void) -> Bool {
        let latch = Latch()
        register { latch.open() }
        return latch.wait(until: deadline)
    }

    /// Runs async work from a thread outside Swift's concurrency (librdkafka's rebalance callback,
    /// which must finish its work before it returns) and blocks that thread until it is done.
    public static func awaiting(_ body: @escaping @Sendable () async -> Void) {
        let latch = Latch()
        Task {
            await body()
            latch.open()
        }
        latch.wait()
    }

    /// Blocks the calling blocking thread for `pause` (a retry's backoff inside a blocking call
    /// that must not return before it succeeds, such as a sink's commit).
    public static func pause(for pause: Duration) {
        _ = Latch().wait(until: .now + pause)
    }
}

/// A one-shot gate: `wait` blocks until `open` (from any thread). Only for blocking threads.
public final class Latch: @unchecked Sendable {
    private let condition = NSCondition()
    private var isOpen = false

    public init() {}

    public func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }

    public func wait() {
        condition.lock()
        while !isOpen { condition.wait() }
        condition.unlock()
    }

    /// True when opened before `deadline`.
    public func wait(until deadline: ContinuousClock.Instant) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !isOpen {
            let left = deadline - .now
            if left <= .zero { return false }
            _ = condition.wait(until: Date(timeIntervalSinceNow: left.seconds))
        }
        return true
    }
}

/// The executor of the running thread (a thread-local; Foundation's `Thread.current` dictionary
/// would allocate per lookup).
private final class ThreadLocal: @unchecked Sendable {
    private var key = pthread_key_t()

    init() { pthread_key_create(&key, nil) }

    var value: BlockingExecutor? {
        get { pthread_getspecific(key).map { Unmanaged<BlockingExecutor>.fromOpaque($0).takeUnretainedValue() } }
        set { pthread_setspecific(key, newValue.map { Unmanaged.passUnretained($0).toOpaque() }) }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
