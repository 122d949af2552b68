import Testing
import TickModel
import TickNormalisation

@Suite struct BatchingTests {
    static func trade(_ ns: Int64, _ symbol: Symbol = "SCOM", seq: Int64? = nil) -> Tick {
        .trade(time: Timestamp(nanosecondsSinceEpoch: ns), symbol: symbol, price: Price(units: 2310, scale: 2), size: 100,
               feedSequence: seq)
    }

    @Test func batchesCloseBySizeOrAgeWhicheverFirst() {
        var batcher = Batcher(maxTicks: 3, maxAge: .milliseconds(100))
        let t0 = ContinuousClock.now
        let k = KeyedTick(tick: Self.trade(1), tradeSeq: 0)
        #expect(batcher.append(k, now: t0) == nil)
        #expect(batcher.append(k, now: t0 + .milliseconds(10)) == nil)
        #expect(batcher.append(k, now: t0 + .milliseconds(20))?.count == 3)   // size
        #expect(batcher.append(k, now: t0 + .milliseconds(30)) == nil)
        #expect(batcher.deadline == t0 + .milliseconds(130))
        #expect(batcher.due(now: t0 + .milliseconds(129)) == nil)
        #expect(batcher.due(now: t0 + .milliseconds(130))?.count == 1)       // age
        #expect(batcher.flush() == nil)
        _ = batcher.append(k, now: t0)
        #expect(batcher.flush()?.count == 1)
    }

    @Test func withALingerABatchClosesWhenTheInputPausesNotAtMaxAge() {
        var batcher = Batcher(maxTicks: 1000, maxAge: .milliseconds(250), linger: .milliseconds(2))
        let t0 = ContinuousClock.now
        let k = KeyedTick(tick: Self.trade(1), tradeSeq: 0)
        _ = batcher.append(k, now: t0)
        #expect(batcher.idleDeadline == t0 + .milliseconds(2))
        // More input is waiting: keep filling, whatever the linger says.
        #expect(batcher.due(now: t0 + .milliseconds(5), writerFree: false) == nil)
        _ = batcher.append(k, now: t0 + .milliseconds(6))
        // The input paused and the oldest tick has lingered: close now (group commit).
        #expect(batcher.due(now: t0 + .milliseconds(1), writerFree: true) == nil)
        #expect(batcher.due(now: t0 + .milliseconds(7), writerFree: true)?.count == 2)
        // Without input pauses, maxAge still bounds the wait.
        _ = batcher.append(k, now: t0)
        #expect(batcher.due(now: t0 + .milliseconds(250), writerFree: false)?.count == 1)
        // No linger: only size and age close a batch.
        var plain = Batcher(maxTicks: 1000, maxAge: .milliseconds(250))
        _ = plain.append(k, now: t0)
        #expect(plain.due(now: t0 + .milliseconds(100), writerFree: true) == nil)
        #expect(plain.idleDeadline == t0 + .milliseconds(250))
    }

    @Test func whileTheQueueHoldsEnoughToFillABatchNeitherLingerNorMaxAgeClosesIt() {
        var batcher = Batcher(maxTicks: 3, maxAge: .milliseconds(250), linger: .milliseconds(2))
        let t0 = ContinuousClock.now
        let k = KeyedTick(tick: Self.trade(1), tradeSeq: 0)
        _ = batcher.append(k, now: t0)
        // A backlog of two more ticks: the batch is past its linger and its max age, and the
        // writer is free, but the backlog fills it.
        #expect(batcher.due(now: t0 + .seconds(1), writerFree: true, waiting: 2) == nil)
        #expect(batcher.due(now: t0 + .seconds(1), writerFree: false, waiting: 5) == nil)
        #expect(batcher.append(k, now: t0 + .seconds(1)) == nil)
        #expect(batcher.append(k, now: t0 + .seconds(1))?.count == 3)
        // A backlog too small to fill it does not hold it back: linger, then max age, close it.
        _ = batcher.append(k, now: t0)
        #expect(batcher.due(now: t0 + .milliseconds(1), writerFree: true, waiting: 1) == nil)
        #expect(batcher.due(now: t0 + .milliseconds(3), writerFree: true, waiting: 1)?.count == 1)
        _ = batcher.append(k, now: t0)
        #expect(batcher.due(now: t0 + .milliseconds(250), writerFree: false, waiting: 1)?.count == 1)
    }

    @Test func sameInstantTradesGetDistinctKeysAndReplaysTheSameKeys() {
        func keys() -> [Int64] {
            var assigner = TradeKeyAssigner()
            return [Self.trade(1_000), Self.trade(1_000), Self.trade(1_999, "KCB"), Self.trade(1_500), Self.trade(2_000),
                    Self.trade(1_000, seq: 77)].map { assigner.key($0).tradeSeq }
        }
        // 1_000 and 1_500 ns are the same microsecond: ordinals 0, 1, 2; KCB its own 0; 2_000 ns a new µs.
        #expect(keys() == [0, 1, 0, 2, 0, 77])
        #expect(keys() == keys())
        var assigner = TradeKeyAssigner()
        #expect(assigner.key(Self.trade(1_999)).tick.time.nanosecondsSinceEpoch == 1_000)  // truncated to µs
        #expect(assigner.key(Self.trade(-1)).tick.time.nanosecondsSinceEpoch == -1_000)
    }
}
