import Testing
import TickModel
import TickNormalisation

@Suite struct PacingTests {
    @Test func speeds() {
        #expect(ReplaySpeed("max") == .max)
        #expect(ReplaySpeed("realtime") == .times(1))
        #expect(ReplaySpeed("60x") == .times(60))
        #expect(ReplaySpeed("0.5X") == .times(0.5))
        for bad in ["", "fast", "0x", "-2x", "x", "infx"] { #expect(ReplaySpeed(bad) == nil, "\(bad)") }
    }

    @Test func ticksAreDueAtTheirFeedTimeDividedBySpeed() {
        var pacer = Pacer(speed: .times(60))
        let start = ContinuousClock.now
        let t0 = Timestamp(secondsSinceEpoch: 1000)
        #expect(pacer.due(t0, now: start) == nil)                                   // the first goes at once
        #expect(pacer.due(Timestamp(secondsSinceEpoch: 1060), now: start) == start + .seconds(1))
        #expect(pacer.due(Timestamp(secondsSinceEpoch: 1600), now: start) == start + .seconds(10))
        #expect(pacer.due(Timestamp(secondsSinceEpoch: 1060), now: start + .seconds(5)) == nil)   // late: go now
        #expect(pacer.due(Timestamp(secondsSinceEpoch: 999), now: start) == nil)   // older than the first: now
        var max = Pacer(speed: .max)
        #expect(max.due(t0, now: start) == nil)
        #expect(max.due(Timestamp(secondsSinceEpoch: 99_999), now: start) == nil)
    }

    @Test func filterKeepsTheWindowAndSymbols() {
        let filter = TickFilter(from: Timestamp(secondsSinceEpoch: 10), to: Timestamp(secondsSinceEpoch: 20), symbols: ["SCOM"])
        func tick(_ s: Int64, _ symbol: Symbol = "SCOM") -> Tick {
            .trade(time: Timestamp(secondsSinceEpoch: s), symbol: symbol, price: Price(units: 1, scale: 0), size: 1)
        }
        #expect(filter.keeps(tick(10)))
        #expect(!filter.keeps(tick(9)))
        #expect(!filter.keeps(tick(20)))                                             // `to` is exclusive
        #expect(!filter.keeps(tick(15, "KCB")))
        #expect(TickFilter().isEmpty)
    }
}
