import LibPQ
import Testing
import TickModel
import TickNormalisation
@testable import TickSinks

@Suite struct BinaryCopyTests {
    static let numericCases: [(Price, [UInt16], Int16)] = [
        (Price(units: 2310, scale: 2), [23, 1000], 0),          // 23.10 = 23 + 1000/10^4
        (Price(units: 140, scale: 0), [140], 0),
        (Price(units: 10_000, scale: 0), [1], 1),               // trailing zero group dropped
        (Price(units: 1, scale: 4), [1], -1),                   // 0.0001
        (Price(units: 45, scale: 2), [4500], -1),               // 0.45
        (Price(units: 1, scale: 8), [1], -2),                   // 0.00000001
        (Price(units: 123_456_789_012_345_678, scale: 6), [1234, 5678, 9012, 3456, 7800], 2), // 1234 5678 9012 . 3456 78
        (Price(units: 0, scale: 2), [], 0),
        (Price(units: -1950, scale: 3), [1, 9500], 0),          // sign travels separately
    ]

    @Test(arguments: numericCases)
    func numericDigitsAreBase10000(price: Price, digits: [UInt16], weight: Int16) {
        #expect(NumericDigits(price) == NumericDigits(digits: digits, weight: weight))
    }

    @Test(arguments: numericCases)
    func numericValuesAreWrittenWithTheirDigits(price: Price, digits: [UInt16], weight: Int16) {
        var writer = BinaryCopyWriter()
        let start = writer.bytes.count
        writer.appendNumeric(price)
        var expected: [UInt8] = []
        func put16(_ v: UInt16) { expected += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        expected += [0, 0, 0, UInt8(8 + 2 * digits.count)]
        put16(UInt16(digits.count)); put16(UInt16(bitPattern: weight)); put16(price.isNegative ? 0x4000 : 0); put16(UInt16(price.scale))
        digits.forEach(put16)
        #expect(Array(writer.bytes[start...]) == expected)
    }

    @Test func theLargestPricesFitTheDigitBuffer() {
        for scale in UInt8(0)...Price.maxScale {
            let price = Price(units: .min + 1, scale: scale)
            let digits = NumericDigits(price)
            #expect(!digits.digits.isEmpty && digits.digits.count <= 10, "scale \(scale): \(digits)")
        }
    }

    @Test func textArraysQuoteEveryElement() {
        #expect(PostgresArray.text([]) == "{}")
        #expect(PostgresArray.text(["SCOM", "KCB"]) == #"{"SCOM","KCB"}"#)
        #expect(PostgresArray.text([#"a"b"#, #"c\d"#, "e,f", "NULL", "{}", ""]) == #"{"a\"b","c\\d","e,f","NULL","{}",""}"#)
        #expect(PostgresArray.int64([1, -2, Int64.max]) == "{1,-2,9223372036854775807}")
        #expect(PostgresArray.plain(["2026-01-05T06:00:00.000000Z", "23.10", "NULL"]) == "{2026-01-05T06:00:00.000000Z,23.10,NULL}")
    }

    @Test func headerRowAndTrailerFollowTheCopyFormat() {
        var writer = BinaryCopyWriter()
        writer.beginRow(fields: 3)
        writer.appendInt64(-2)
        writer.appendText("SCOM")
        writer.appendNumeric(Price(units: 2310, scale: 2))
        writer.finish()
        var expected: [UInt8] = Array("PGCOPY\n".utf8)
        expected += [0xFF, 0x0D, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0]           // signature rest, flags, extension
        expected += [0, 3]                                                 // field count
        expected += [0, 0, 0, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE] // int8 -2
        expected += [0, 0, 0, 4] + Array("SCOM".utf8)                       // text
        expected += [0, 0, 0, 12, 0, 2, 0, 0, 0, 0, 0, 2, 0, 23, 0x03, 0xE8] // numeric 23.10
        expected += [0xFF, 0xFF]                                           // trailer
        #expect(writer.bytes == expected)
        #expect(writer.rows == 1)
    }

    @Test func timestampsAreMicrosecondsSince2000() {
        #expect(BinaryCopyWriter.postgresMicroseconds(Timestamp(secondsSinceEpoch: 946_684_800)) == 0)
        #expect(BinaryCopyWriter.postgresMicroseconds(Timestamp(nanosecondsSinceEpoch: 946_684_800_000_001_999)) == 1)
        #expect(BinaryCopyWriter.postgresMicroseconds(Timestamp(nanosecondsSinceEpoch: -1)) == -946_684_800_000_001)
    }

    @Test func tableNamesAreIdentifiersOnly() {
        #expect(TableName("market_ticks")?.sql == "\"market_ticks\"")
        #expect(TableName("md.Ticks_2")?.sql == "\"md\".\"Ticks_2\"")
        for bad in ["", "1ticks", "ticks;drop table stocks", "a.b.c", "ticks\"", "tick s", ".ticks", String(repeating: "a", count: 64)] {
            #expect(TableName(bad) == nil, "\(bad)")
        }
    }

    @Test func lastTickPerKeyWinsInBatch() {
        let t = Timestamp(secondsSinceEpoch: 1_767_592_800)
        let a = KeyedTickFixture.make(t, price: 1, seq: 0), b = KeyedTickFixture.make(t, price: 2, seq: 1)
        let a2 = KeyedTickFixture.make(t, price: 3, seq: 0)
        #expect(PostgresSink.lastPerKey([a, b, a2]) == [b, a2])
        #expect(PostgresSink.lastPerKey([a, b]) == [a, b])
    }
}

enum KeyedTickFixture {
    static func make(_ time: Timestamp, price: Int64, seq: Int64) -> KeyedTick {
        KeyedTick(tick: .trade(time: time, symbol: "SCOM", price: Price(units: price, scale: 0), size: 1), tradeSeq: seq)
    }
}
