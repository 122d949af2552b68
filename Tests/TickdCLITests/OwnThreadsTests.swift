import Foundation
import Testing
import TestSupport

/// The trait that keeps blocking tests off Swift's cooperative pool.
@Suite(.ownThreads) struct OwnThreadsTests {
    @Test func aTestThatBlocksDoesSoOnAThreadOfItsOwn() async throws {
        // Both of the test's threads block until a task on the cooperative pool signals them.
        let released = DispatchSemaphore(value: 0)
        let names = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    released.wait()
                    return Self.threadName()
                }
            }
            Task.detached { released.signal(); released.signal() }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(names == ["aTestThatBlocksDoesSoOnAThreadOfItsOwn()", "aTestThatBlocksDoesSoOnAThreadOfItsOwn()"], "the test's own threads")
    }

    @Test func aSynchronousTestRunsThereToo() {
        #expect(OwnThreads.currentTest == "aSynchronousTestRunsThereToo()")
    }

    /// The test whose threads the caller runs on (`Thread.current` is for synchronous code).
    static func threadName() -> String? { OwnThreads.currentTest }
}
