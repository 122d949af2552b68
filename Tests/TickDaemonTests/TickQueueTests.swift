import Synchronization
import Testing
import TickDaemon
import TickEngine
import TickModel
import TickNormalisation

@Suite struct TickQueueTests {
    static func chunk(_ n: Int, _ source: String = "s") -> TickChunk {
        TickChunk(source: source, throughLine: n, ticks: (0..<n).map { i in
            KeyedTick(tick: .trade(time: Timestamp(secondsSinceEpoch: Int64(i)), symbol: "SCOM",
                                   price: Price(units: 1, scale: 0), size: 1), tradeSeq: 0)
        })
    }

    /// The waits below are on the queue's own state (a suspended sender, a waiting consumer), not
    /// on time; the time limit fails a test whose event never comes.
    @Test(.timeLimit(.minutes(1))) func aFullQueueSuspendsTheSenderUntilTheConsumerTakes() async {
        let queue = TickQueue(capacity: 10)
        #expect(await queue.send(Self.chunk(6)))
        let returned = Mutex(false)
        let blocked = Task {
            let accepted = await queue.send(Self.chunk(6, "second"))
            returned.withLock { $0 = true }
            return accepted
        }
        // The sender is parked for room, and has not returned.
        while queue.suspendedSenders == 0 { await Task.yield() }
        #expect(!returned.withLock { $0 })
        #expect(queue.depth == 6)                     // the second chunk is still waiting
        let first = await queue.receive(until: nil)
        #expect(first?.ticks.count == 6)
        #expect(await blocked.value)
        #expect(await queue.receive(until: nil)?.source == "second")
    }

    @Test func receiveTimesOutAtTheDeadline() async {
        let queue = TickQueue(capacity: 10)
        let started = ContinuousClock.now
        let got = await queue.receive(until: started + .milliseconds(30))
        #expect(got == nil)
        #expect(ContinuousClock.now - started >= .milliseconds(30))
        // Timed out, not ended: an open queue is not drained; a finished empty one is.
        #expect(!queue.isDrained)
        queue.finish()
        #expect(queue.isDrained)
    }

    /// The receives below have no deadline: without the wake they would never return, and the
    /// time limit fails the test (no wall-clock bound that a busy machine could break).
    @Test(.timeLimit(.minutes(1))) func wakeEndsTheConsumersWaitOrItsNextOne() async {
        let queue = TickQueue(capacity: 10)
        // Not waiting yet: the next receive returns at once.
        queue.wake()
        #expect(await queue.receive(until: nil) == nil)
        // Waiting: a wake from elsewhere ends the wait.
        let waiting = Task { await queue.receive(until: nil) }
        while !queue.isConsumerWaiting { await Task.yield() }
        queue.wake()
        #expect(await waiting.value == nil)
        #expect(!queue.isDrained)
        // One wake is used once: the receive after it waits for its chunk.
        #expect(await queue.send(Self.chunk(1)))
        #expect(await queue.receive(until: .now + .seconds(3600))?.ticks.count == 1)
    }

    /// A consumer waiting without a deadline (the pipeline's usual wait) returns nil when its task
    /// is cancelled, waiting already or not yet: a failed source cancels the ingest service, and
    /// a wait that outlived it kept tickd from exiting.
    @Test(.timeLimit(.minutes(1))) func aCancelledConsumerStopsWaitingWithoutADeadline() async {
        let queue = TickQueue(capacity: 10)
        let waiting = Task { await queue.receive(until: nil) }
        while !queue.isConsumerWaiting { await Task.yield() }
        waiting.cancel()
        #expect(await waiting.value == nil)
        #expect(!queue.isConsumerWaiting)
        let cancelledFirst = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await queue.receive(until: nil)
        }
        #expect(await cancelledFirst.value == nil)
        // The queue still works for the next receive.
        #expect(await queue.send(Self.chunk(2)))
        #expect(await queue.receive(until: nil)?.ticks.count == 2)
    }

    @Test(.timeLimit(.minutes(1))) func finishDeliversWhatIsLeftThenEndsAndRefusesSenders() async {
        let queue = TickQueue(capacity: 5)
        #expect(await queue.send(Self.chunk(5)))
        let waiting = Task { await queue.send(Self.chunk(3)) }
        while queue.suspendedSenders == 0 { await Task.yield() }
        queue.finish()
        #expect(await waiting.value == false)
        #expect(await queue.receive(until: nil)?.ticks.count == 5)
        #expect(await queue.receive(until: nil) == nil)
        #expect(queue.isDrained)
        #expect(await queue.send(Self.chunk(1)) == false)
    }
}

extension TickChunk: Equatable {
    public static func == (lhs: TickChunk, rhs: TickChunk) -> Bool {
        lhs.source == rhs.source && lhs.throughLine == rhs.throughLine && lhs.ticks == rhs.ticks
    }
}
