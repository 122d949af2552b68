import Blocking
import Synchronization
import Testing

/// An actor whose jobs run on a blocking executor's thread, as tickd's handle owners are.
private actor Counter {
    nonisolated let executor: BlockingExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private(set) var values: [Int] = []

    init(executor: BlockingExecutor) { self.executor = executor }

    func append(_ value: Int) -> Bool {
        values.append(value)
        return executor.isCurrent
    }
}

@Suite struct BlockingExecutorTests {
    @Test func closuresRunInOrderOnTheExecutorsThreadOnly() async throws {
        let executor = BlockingExecutor(name: "test-order")
        let seen = Mutex<[Int]>([])
        for i in 0..<1_000 {
            executor.execute { seen.withLock { $0.append(executor.isCurrent ? i : -1) } }
        }
        let onThread = try await executor.run { executor.isCurrent }
        #expect(onThread)
        #expect(!executor.isCurrent, "the test's task is not on the executor's thread")
        #expect(seen.withLock { $0 } == Array(0..<1_000), "FIFO, and every closure on the thread")
        await executor.shutdownGracefully()
    }

    @Test func runReturnsTheBodysErrorAndRefusesWorkAfterTheEnd() async throws {
        struct Broken: Error {}
        let executor = BlockingExecutor(name: "test-errors")
        await #expect(throws: Broken.self) { try await executor.run { throw Broken() } }
        await executor.shutdownGracefully()
        await #expect(throws: CancellationError.self) { try await executor.run { 1 } }
        #expect(!executor.execute {}, "refused once shut down")
    }

    @Test func anActorOnTheExecutorRunsItsMethodsThere() async {
        let executor = BlockingExecutor(name: "test-actor")
        let counter = Counter(executor: executor)
        var allOnThread = true
        for i in 0..<100 { allOnThread = await counter.append(i) && allOnThread }
        #expect(allOnThread)
        #expect(await counter.values == Array(0..<100))
        // From a closure on the thread, the actor's isolation can be assumed (checkIsolated).
        let total = try? await executor.run { counter.assumeIsolated { $0.values.count } }
        #expect(total == 100)
        await executor.shutdownGracefully()
    }

    @Test func timersRunInDeadlineOrderAndCanBeCancelled() async throws {
        let executor = BlockingExecutor(name: "test-timers")
        let fired = Mutex<[String]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            executor.schedule(after: .milliseconds(30)) {
                fired.withLock { $0.append("late") }
                done.resume()
            }
            let cancelled = executor.schedule(after: .milliseconds(10)) { fired.withLock { $0.append("cancelled") } }
            executor.schedule(after: .milliseconds(5)) { fired.withLock { $0.append("early") } }
            cancelled.cancel()
        }
        #expect(fired.withLock { $0 } == ["early", "late"])
        await executor.shutdownGracefully()
    }

    @Test func aTimerDoesNotHoldUpWorkGivenMeanwhile() async throws {
        let executor = BlockingExecutor(name: "test-timer-work")
        let fired = Mutex(false)
        executor.schedule(after: .seconds(3600)) { fired.withLock { $0 = true } }
        let value = try await executor.run { 42 }
        #expect(value == 42)
        await executor.shutdownGracefully()
        #expect(!fired.withLock { $0 }, "a timer not yet due is dropped at shutdown")
    }

    @Test func parkBlocksUntilResumedFromAnotherThread() async throws {
        let a = BlockingExecutor(name: "test-park-a")
        let b = BlockingExecutor(name: "test-park-b")
        let resume = Mutex<(@Sendable () -> Void)?>(nil)
        let registered = Latch()
        async let parked: Bool = a.run {
            BlockingExecutor.park { wake in
                resume.withLock { $0 = wake }
                registered.open()
            }
            return true
        }
        try await b.run {
            registered.wait()
            resume.withLock { $0 }?()
        }
        #expect(try await parked)
        let timedOut = try await a.run { BlockingExecutor.park(until: .now + .milliseconds(5)) { _ in } }
        #expect(!timedOut, "nobody resumed it")
        await a.shutdownGracefully()
        await b.shutdownGracefully()
    }

    @Test func awaitingRunsAsyncWorkFromABlockingThread() async throws {
        let executor = BlockingExecutor(name: "test-awaiting")
        let result = try await executor.run {
            let box = Mutex(0)
            BlockingExecutor.awaiting {
                await Task.yield()
                box.withLock { $0 = 7 }
            }
            return box.withLock { $0 }
        }
        #expect(result == 7)
        await executor.shutdownGracefully()
    }
}
