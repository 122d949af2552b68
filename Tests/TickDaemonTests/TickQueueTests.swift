import Testing
import TickDaemon
import TickModel
import TickPipeline

@Suite struct TickQueueTests {
    static func chunk(_ n: Int, _ source: String = "s") -> TickChunk {
        TickChunk(source: source, throughLine: n, ticks: (0..<n).map { i in
            KeyedTick(tick: .trade(time: Timestamp(secondsSinceEpoch: Int64(i)), symbol: "SCOM",
                                   price: Price(units: 1, scale: 0), size: 1), tradeSeq: 0)
        })
    }

    @Test func aFullQueueSuspendsTheSenderUntilTheConsumerTakes() async {
        let queue = TickQueue(capacity: 10)
        #expect(await queue.send(Self.chunk(6)))
        let blocked = Task { await queue.send(Self.chunk(6, "second")) }
        try? await Task.sleep(for: .milliseconds(50))
        #expect(queue.depth == 6)                     // the second chunk is still waiting
        let first = await queue.receive(until: nil)
        #expect(first?.ticks.count == 6)
        #expect(await blocked.value)
        #expect(await queue.receive(until: nil)?.source == "second")
    }

    @Test func receiveTimesOutAtTheDeadline() async {
        let queue = TickQueue(capacity: 10)
        let got = await queue.receive(until: .now + .milliseconds(30))
        #expect(got == nil)
        #expect(!queue.isDrained)
    }

    @Test func finishDeliversWhatIsLeftThenEndsAndRefusesSenders() async {
        let queue = TickQueue(capacity: 5)
        #expect(await queue.send(Self.chunk(5)))
        let waiting = Task { await queue.send(Self.chunk(3)) }
        try? await Task.sleep(for: .milliseconds(20))
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
