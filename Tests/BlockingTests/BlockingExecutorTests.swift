import Foundation
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

    @Test func theThreadCarriesTheExecutorsNameShortenedToWhatLinuxKeeps() async throws {
        let executor = BlockingExecutor(name: "tickd-redis-publisher")
        let name = try await executor.run { try String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8) }
        #expect(name == "tickd-redis-pub\n", "as top -H and perf show it")
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

    /// An actor on the executor that awaits suspends: the thread runs other work meanwhile (here
    /// the very closure that resumes it; a blocked thread would never run it), and the actor
    /// resumes on the thread.
    @Test(.timeLimit(.minutes(1))) func anActorThatAwaitsLeavesTheThreadToOtherWork() async throws {
        let executor = BlockingExecutor(name: "test-suspend")
        let waiter = Waiter(executor: executor)
        let resumedOnThread = await waiter.waitForWorkOnItsOwnThread()
        #expect(resumedOnThread)
        await executor.shutdownGracefully()
        #expect(!executor.schedule(after: .zero) {}.isSet, "no timer is set once shut down")
    }
}

/// Waits, on a blocking executor, for a closure given to that same executor.
private actor Waiter {
    nonisolated let executor: BlockingExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init(executor: BlockingExecutor) { self.executor = executor }

    func waitForWorkOnItsOwnThread() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            executor.execute { continuation.resume() }
        }
        return executor.isCurrent
    }
}
