import Testing
import TickModel
import TickNormalisation
@testable import TickSinks

@Suite struct StoredTickTests {
    /// The definition: per symbol, the greatest (time, trade_seq); of equal ones, the first.
    static func reference(_ stored: [StoredTick]) -> [Symbol: Int] {
        var newest: [Symbol: Int] = [:]
        for (index, tick) in stored.enumerated() {
            let key = (tick.keyed.tick.time, tick.keyed.tradeSeq)
            if let current = newest[tick.keyed.tick.symbol],
               (stored[current].keyed.tick.time, stored[current].keyed.tradeSeq) >= key { continue }
            newest[tick.keyed.tick.symbol] = index
        }
        return newest
    }

    static func tick(_ symbol: Symbol, second: Int64, tradeSeq: Int64) -> StoredTick {
        let tick = Tick.trade(time: Timestamp(secondsSinceEpoch: 1_767_592_800 + second), symbol: symbol,
                              price: Price(units: 100, scale: 2), size: 1)
        return StoredTick(keyed: KeyedTick(tick: tick, tradeSeq: tradeSeq), seq: 1)
    }

    @Test func theNewestOfEachSymbolIsFoundInGroupedAndInterleavedBatches() {
        var generator = SystemRandomNumberGenerator()
        let symbols: [Symbol] = ["SCOM", "EQTY", "KCB", "ABSA"]
        for round in 0..<300 {
            var stored = (0..<Int.random(in: 0...60, using: &generator)).map { _ in
                Self.tick(symbols.randomElement(using: &generator)!, second: Int64.random(in: 0...5, using: &generator),
                          tradeSeq: Int64.random(in: 0...3, using: &generator))
            }
            // Half the rounds as the sink hands them over (grouped by symbol), half in any order.
            if round.isMultiple(of: 2) { stored.sort { $0.keyed.tick.symbol.rawValue < $1.keyed.tick.symbol.rawValue } }
            #expect(StoredTick.newestIndices(stored) == Self.reference(stored), "round \(round)")
        }
    }

    @Test func ofEqualNewestTicksTheFirstWins() {
        let stored = [Self.tick("SCOM", second: 5, tradeSeq: 1), Self.tick("SCOM", second: 5, tradeSeq: 1),
                      Self.tick("EQTY", second: 1, tradeSeq: 0), Self.tick("SCOM", second: 5, tradeSeq: 1)]
        #expect(StoredTick.newestIndices(stored) == ["SCOM": 0, "EQTY": 2])
    }
}
