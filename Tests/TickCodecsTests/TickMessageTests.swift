import Testing
import TickCodecs
import TickModel

@Suite struct TickMessageTests {
    @Test func theMessageOfSpecMD() {
        let tick = Tick.trade(time: Timestamp(secondsSinceEpoch: 1_767_592_800), symbol: "SCOM",
                              price: Price(units: 2310, scale: 2), size: 1000)
        #expect(String(decoding: TickMessage.json(tick, seq: 4711), as: UTF8.self)
                == #"{"symbol":"SCOM","time":"2026-01-05T06:00:00.000Z","open":23.10,"high":23.10,"low":23.10,"close":23.10,"volume":1000,"seq":4711}"#)
    }

    @Test func timeIsMillisecondsAndSymbolsAreEscaped() {
        let tick = Tick(time: Timestamp(nanosecondsSinceEpoch: 1_767_592_800_123_987_000), symbol: #"A"B"#,
                        open: Price(units: 1, scale: 0), high: Price(units: 15, scale: 1), low: Price(units: 5, scale: 3),
                        close: Price(units: 1, scale: 0), volume: 0)
        let text = String(decoding: TickMessage.json(tick, seq: 1), as: UTF8.self)
        #expect(text.contains(#""time":"2026-01-05T06:00:00.123Z""#))
        #expect(text.contains(#""symbol":"A\"B""#))
        #expect(text.contains(#""high":1.5,"low":0.005,"#))
    }
}
