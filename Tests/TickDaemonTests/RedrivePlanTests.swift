import Foundation
import Testing
import TickDaemon

/// Reading a dead-letter file for `tickd redrive` (no I/O).
@Suite struct RedrivePlanTests {
    static let file = """
        {"source":"a.csv","line":2,"reason":"unknown_symbol","detail":"","raw":"2026-01-05T07:00:00Z,NEWCO,10.00,100,1","header":"time,symbol,price,volume,trade_id"}
        {"source":"tcp 127.0.0.1:5000","line":7,"reason":"unknown_symbol","detail":"","raw":"{\\"ts\\":\\"2026-01-05T07:00:00Z\\",\\"sym\\":\\"NEWCO\\",\\"px\\":10,\\"qty\\":5}"}
        {"source":"a.csv","line":3,"reason":"negative_price","detail":"","raw":"2026-01-05T07:00:01Z,SCOM,-1,100,2","header":"time,symbol,price,volume,trade_id"}
        {"source":"a.csv","line":9,"reason":"unknown_symbol","detail":"","raw":"NEWCO;2026-01-05T07:00:02Z","header":"symbol;time;price;volume"}
        {"source":"a.csv","line":4,"reason":"unknown_symbol","detail":"","raw":"2026-01-05T07:00:03Z,NEWCO,10.10,100,3","header":"time,symbol,price,volume,trade_id"}
        {"source":"b.csv","line":1,"reason":"invalid_utf8","detail":"","raw":"\\u00ef\\u00bf\\u00bd","raw_hex":"ff0a41"}
        {"source":"b.csv","line":2,"reason":"line_too_long","detail":"","raw":"xxxx","truncated":true,"length":99999}
        not json

        """

    @Test func deadLettersAreRegroupedBySourceAndHeaderAndFilteredByReason() {
        let plan = Redrive.plan(Data(Self.file.utf8), reasons: ["unknown_symbol"])
        #expect(plan.feeds.map(\.source) == ["a.csv", "tcp 127.0.0.1:5000", "a.csv"])
        #expect(plan.feeds.map(\.header) == ["time,symbol,price,volume,trade_id", nil, "symbol;time;price;volume"])
        #expect(plan.feeds[0].lines.map { String(decoding: $0, as: UTF8.self) }
                == ["2026-01-05T07:00:00Z,NEWCO,10.00,100,1", "2026-01-05T07:00:03Z,NEWCO,10.10,100,3"])
        #expect(plan.otherReasons == 3 && plan.truncated == 0 && plan.unreadable == 1)
        let all = Redrive.plan(Data(Self.file.utf8), reasons: [])
        #expect(all.truncated == 1 && all.otherReasons == 0)
        // The exact bytes of a line that was not UTF-8.
        #expect(all.feeds.last?.lines == [[0xff, 0x0a, 0x41]])
    }
}
