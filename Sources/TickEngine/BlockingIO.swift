import NIOPosix

/// Threads for the blocking calls of the pipeline (`tickd run` and `tickd replay`), so that none
/// runs on Swift's cooperative pool (two threads there, on a two-core machine, and every
/// connection's task needs one): connecting the writer lanes, file opens and reads, journal
/// appends and fsyncs, journal reads at start, segment deletion, dead-letter writes, and the wait
/// for the Redis publisher to drain. Two threads, so that one slow fsync does not hold up a
/// dead-letter flush. libpq has its own threads (`WriterLane`), as have the Redis publisher, the
/// candle refresher, the database probe and each TLS bridge.
public struct BlockingIO: Sendable {
    let pool: NIOThreadPool

    public static func start() -> BlockingIO {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return BlockingIO(pool: pool)
    }

    /// Runs `body` on one of the threads and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Runs `body` on one of the threads without waiting for it.
    public func submit(_ body: @escaping @Sendable () -> Void) {
        pool.submit { state in if state == .active { body() } }
    }

    public func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}

/// A value handed between threads that only one task uses at a time (a file reader, a journal cursor,
/// connections being opened: each call runs on an I/O thread and is awaited before the next).
public final class OnOneTask<Value>: @unchecked Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }
}
