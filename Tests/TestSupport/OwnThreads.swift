import Foundation
import Testing

/// Runs each test case of a suite on two threads made for it, not on Swift's cooperative pool.
///
/// Integration tests block: they sleep, wait for a process, a socket or a semaphore, and call
/// libpq. A test that blocks holds the thread it runs on, and the cooperative pool has one thread
/// per core: on a two-core machine two such tests stop every other test's tasks for as long (a
/// Kafka feed test then waited minutes for deliveries that were ready). With this trait a test's
/// body and the child tasks it starts run on the test's own threads (a task executor
/// preference); Swift Testing still runs at most twice as many test cases at once as there are
/// cores.
public struct OwnThreads: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // Called for the suite and the test function too (testCase nil): only a case runs a body.
        guard testCase != nil else { return try await function() }
        let threads = TestThreads(count: 2, name: test.name)
        defer { threads.shutdown() }
        try await withTaskExecutorPreference(threads) { try await function() }
    }
}

extension OwnThreads {
    /// The name of the test whose threads the caller runs on; nil on any other thread.
    public static var currentTest: String? { Thread.current.threadDictionary[TestThreads.key] as? String }
}

extension Trait where Self == OwnThreads {
    /// Each test case on threads of its own (`OwnThreads`): for suites whose tests block.
    public static var ownThreads: Self { OwnThreads() }
}

/// A task executor of `count` threads, for one test case. A job given after `shutdown` (a task
/// that outlived its test) still runs, on a thread of its own.
final class TestThreads: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private let name: String

    init(count: Int, name: String) {
        self.name = name
        for _ in 0..<count {
            Thread { [self] in serve() }.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else {
            Thread { [self] in job.runSynchronously(on: asUnownedTaskExecutor()) }.start()
            return
        }
        jobs.append(job)
        condition.signal()
    }

    /// The threads end once the jobs given so far have run.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    static let key = "OwnThreads.test"

    private func serve() {
        Thread.current.threadDictionary[Self.key] = name
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            guard !jobs.isEmpty else {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
