import Testing
@testable import TickDaemon
@testable import TickEngine
import TickNormalisation

/// The queue's rules without tasks or time: waiters are plain tokens.
@Suite struct TickQueueStateTests {
    typealias State = TickQueueState<String>

    @Test func aFullQueueParksSendersUntilAReceiveMakesRoom() {
        var queue = State(capacity: 10)
        guard case .accepted(nil) = queue.send(TickQueueTests.chunk(6)) else { Issue.record("first chunk not held"); return }
        guard case .full = queue.send(TickQueueTests.chunk(6, "second")) else { Issue.record("no room expected"); return }
        let parked = queue.parkSender("sender", for: 6)
        #expect(parked)
        #expect(queue.senders == ["sender"] && queue.ticks == 6)
        guard case .chunk(let chunk, let resume) = queue.receive(id: queue.newReceiveID(), waiter: "consumer") else {
            Issue.record("no chunk"); return
        }
        #expect(chunk.ticks.count == 6 && resume == ["sender"] && queue.ticks == 0)
        let late = queue.parkSender("late", for: 6)
        #expect(!late, "room was made before it parked: try again at once")
    }

    @Test func takeReturnsAQueuedChunkWithoutParkingAndNothingWhenEmpty() {
        var queue = State(capacity: 10)
        #expect(queue.take() == nil, "empty: nothing, and no receiver parked")
        #expect(queue.receiver == nil)
        _ = queue.send(TickQueueTests.chunk(6))
        guard case .full = queue.send(TickQueueTests.chunk(6, "second")) else { Issue.record("no room expected"); return }
        _ = queue.parkSender("sender", for: 6)
        let taken = queue.take()
        #expect(taken?.0.ticks.count == 6 && taken?.resume == ["sender"] && queue.ticks == 0)
    }

    @Test func aParkedReceiverGetsTheNextChunkHandedOver() {
        var queue = State(capacity: 10)
        guard case .parked = queue.receive(id: queue.newReceiveID(), waiter: "consumer") else { Issue.record("not parked"); return }
        guard case .accepted(let receiver) = queue.send(TickQueueTests.chunk(3)) else { Issue.record("not accepted"); return }
        #expect(receiver == "consumer" && queue.ticks == 0, "handed over, not held")
    }

    @Test func aDeadlineOrAWakeEndsAWaitOnceAndOnlyIts() {
        var queue = State(capacity: 10)
        let first = queue.newReceiveID()
        let early = queue.deadlinePassed(id: first)
        #expect(early == nil, "passed before it parked")
        guard case .none = queue.receive(id: first, waiter: "late") else { Issue.record("an expired receive parked"); return }
        let second = queue.newReceiveID()
        guard case .parked = queue.receive(id: second, waiter: "consumer") else { Issue.record("not parked"); return }
        let old = queue.deadlinePassed(id: first)
        #expect(old == nil, "an old deadline does not end a newer wait")
        let woken = queue.wake()
        #expect(woken == "consumer")
        let pending = queue.wake()
        #expect(pending == nil && queue.wakePending)
        guard case .none = queue.receive(id: queue.newReceiveID(), waiter: "next") else { Issue.record("pending wake not used"); return }
        guard case .parked = queue.receive(id: queue.newReceiveID(), waiter: "after") else { Issue.record("a wake used twice"); return }
    }

    @Test func finishRefusesSendersAndDeliversWhatIsLeftFirst() {
        var queue = State(capacity: 5)
        _ = queue.send(TickQueueTests.chunk(5))
        let parked = queue.parkSender("sender", for: 3)
        #expect(parked)
        let (senders, receiver) = queue.finish()
        #expect(senders == ["sender"] && receiver == nil)
        guard case .refused = queue.send(TickQueueTests.chunk(1)) else { Issue.record("accepted after finish"); return }
        guard case .chunk = queue.receive(id: queue.newReceiveID(), waiter: "consumer") else { Issue.record("lost what was left"); return }
        guard case .none = queue.receive(id: queue.newReceiveID(), waiter: "consumer") else { Issue.record("parked after the end"); return }
        #expect(queue.isDrained)
    }

    @Test func aChunkLargerThanTheCapacityGoesInAlone() {
        var queue = State(capacity: 5)
        guard case .accepted = queue.send(TickQueueTests.chunk(8)) else { Issue.record("refused a large chunk"); return }
        guard case .full = queue.send(TickQueueTests.chunk(1)) else { Issue.record("not alone"); return }
    }
}
