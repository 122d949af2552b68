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

    @Test func flagsAndExtremeIntegersAreWrittenExactly() {
        let tick = Tick(time: Timestamp(secondsSinceEpoch: 0), symbol: "KPLC", open: Price(units: -5, scale: 1),
                        high: Price(units: 0, scale: 0), low: Price(units: -5, scale: 1), close: Price(units: 0, scale: 0),
                        volume: Int64.max)
        let text = String(decoding: TickMessage.json(tick, seq: Int64.min, flags: ["off_tick", "price_limit"]), as: UTF8.self)
        #expect(text == #"{"symbol":"KPLC","time":"1970-01-01T00:00:00.000Z","open":-0.5,"high":0,"low":-0.5,"close":0,"volume":9223372036854775807,"seq":-9223372036854775808,"flags":["off_tick","price_limit"]}"#)
    }

    @Test func appendingToABufferKeepsWhatItHeld() {
        let tick = Tick.trade(time: Timestamp(secondsSinceEpoch: 1_767_592_800), symbol: "SCOM",
                              price: Price(units: 2310, scale: 2), size: 1000)
        var out = Array("prefix:".utf8)
        TickMessage.append(tick, seq: 0, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "prefix:" + String(decoding: TickMessage.json(tick, seq: 0), as: UTF8.self))
        #expect(String(decoding: out, as: UTF8.self).hasSuffix(#""volume":1000,"seq":0}"#))
    }

    @Test func aCancelAndACorrectionNameTheirTradeAndTheSeqItHad() {
        var tick = Tick.trade(time: Timestamp(secondsSinceEpoch: 1_767_592_800), symbol: "SCOM", price: Price(units: 2500, scale: 2), size: 1000)
        tick.action = .cancel
        #expect(String(decoding: TickMessage.json(tick, seq: 12, amends: .init(tradeID: 812, seq: 3)), as: UTF8.self)
                == #"{"symbol":"SCOM","time":"2026-01-05T06:00:00.000Z","open":25.00,"high":25.00,"low":25.00,"close":25.00,"volume":1000,"seq":12,"action":"cancel","trade_id":812,"ref_seq":3}"#)
        tick.action = .correct
        #expect(String(decoding: TickMessage.json(tick, seq: 13, amends: .init(tradeID: 812, seq: 12)), as: UTF8.self).hasSuffix(#""seq":13,"action":"correct","trade_id":812,"ref_seq":12}"#))
    }
}
