import Blocking
import Synchronization
import Testing

/// An owner of suspended tasks, as the Redis publisher, the candle refresher and the commit
/// notices are: a state under a lock, and tasks waiting until it is open.
private final class Gate: Sendable {
    private struct State {
        var opened: String?
        var waiting = SuspendedTasks<Int, String>()
        var parked = 0
    }
    private let state = Mutex(State())

    /// How many waits were filed so far (resumed or not).
    var parked: Int { state.withLock { $0.parked } }
    var isEmpty: Bool { state.withLock { $0.waiting.isEmpty } }

    func wait(tag: Int = 0, until deadline: ContinuousClock.Instant? = nil) async -> String {
        await suspend(until: deadline, ready: "ready", timedOut: "timed out", park: { [self] continuation in
            state.withLock { state in
                if state.opened != nil { return nil }
                state.parked += 1
                return state.waiting.add(continuation, tag: tag)
            }
        }, withdraw: { [self] id in
            state.withLock { $0.waiting.remove(id) }
        })
    }

    /// Resumes the waits whose tag `matching` accepts with `value`, numbered in the order they
    /// were taken when `numbered`; how many.
    @discardableResult
    func resume(_ value: String, numbered: Bool = false, where matching: @escaping (Int) -> Bool = { _ in true }) -> Int {
        let taken = state.withLock { $0.waiting.removeAll(where: matching) }
        for (index, continuation) in taken.enumerated() { continuation.resume(returning: numbered ? "\(value) \(index)" : value) }
        return taken.count
    }

    func open() { state.withLock { $0.opened = "open" } }

    /// Suspends (yielding) until `count` waits were filed: the event itself, not a pause.
    func untilParked(_ count: Int) async {
        while parked < count { await Task.yield() }
    }
}

@Suite struct SuspendedTasksTests {
    @Test func aWaitResumedByItsOwnerReturnsTheOwnersValue() async {
        let gate = Gate()
        async let value = gate.wait()
        await gate.untilParked(1)
        #expect(gate.resume("opened") == 1)
        let resumed = await value
        #expect(resumed == "opened")
        #expect(gate.isEmpty)
    }

    @Test func nothingToWaitForReturnsReadyWithoutParking() async {
        let gate = Gate()
        gate.open()
        #expect(await gate.wait() == "ready")
        #expect(await gate.wait(until: .now + .seconds(60)) == "ready")
        #expect(gate.parked == 0)
    }

    @Test func aDeadlineThatPassesReturnsTimedOutAndWithdrawsTheWait() async {
        let gate = Gate()
        #expect(await gate.wait(until: .now + .milliseconds(20)) == "timed out")
        #expect(gate.parked == 1 && gate.isEmpty, "filed, then taken back out")
        #expect(gate.resume("late") == 0, "nothing left to resume")
    }

    @Test(.timeLimit(.minutes(1))) func aWaitResumedBeforeItsDeadlineReturnsTheOwnersValue() async {
        let gate = Gate()
        async let value = gate.wait(until: .now + .seconds(600))
        await gate.untilParked(1)
        gate.resume("opened")
        let resumed = await value
        #expect(resumed == "opened", "and it did not sit out the deadline: the test's time limit would fail it")
    }

    @Test(.timeLimit(.minutes(1))) func aCancelledTaskStopsWaitingWithOrWithoutADeadline() async {
        let gate = Gate()
        let forever = Task { await gate.wait() }
        let long = Task { await gate.wait(until: .now + .seconds(600)) }
        await gate.untilParked(2)
        forever.cancel()
        long.cancel()
        #expect(await forever.value == "timed out")
        #expect(await long.value == "timed out")
        #expect(gate.isEmpty, "both withdrawn")
    }

    @Test func aTaskCancelledBeforeItWaitsDoesNotStayParked() async {
        let gate = Gate()
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await gate.wait()
        }
        #expect(await cancelled.value == "timed out")
        #expect(gate.isEmpty)
    }

    @Test func theOwnerPicksWhomToResumeByTagOldestFirst() async {
        let gate = Gate()
        async let first = gate.wait(tag: 1)
        await gate.untilParked(1)
        async let second = gate.wait(tag: 5)
        await gate.untilParked(2)
        async let third = gate.wait(tag: 2)
        await gate.untilParked(3)
        #expect(gate.resume("done", numbered: true, where: { $0 <= 2 }) == 2)
        let (one, three) = (await first, await third)
        #expect(one == "done 0" && three == "done 1")
        #expect(!gate.isEmpty, "tag 5 still waits")
        gate.resume("later")
        let two = await second
        #expect(two == "later")
    }
}
