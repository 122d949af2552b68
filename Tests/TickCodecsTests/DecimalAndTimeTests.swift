import Testing
import TickCodecs
import TickModel

func parseDecimal(_ text: String) -> DecimalParse {
    var bytes = Array(text.utf8)
    return bytes.withUnsafeMutableBufferPointer { DecimalText.parse(UnsafeBufferPointer($0)) }
}

func parseTime(_ text: String) -> TimeParse {
    var bytes = Array(text.utf8)
    return bytes.withUnsafeMutableBufferPointer { TimeText.parse(UnsafeBufferPointer($0)) }
}

@Suite struct DecimalTextTests {
    @Test(arguments: [
        ("23.10", Price(units: 2310, scale: 2)), (" 23.10 ", Price(units: 2310, scale: 2)),
        ("+0.45", Price(units: 45, scale: 2)), ("-1", Price(units: -1, scale: 0)), (".5", Price(units: 5, scale: 1)),
        ("5.", Price(units: 5, scale: 0)), ("2.310E1", Price(units: 2310, scale: 2)), ("1e3", Price(units: 1000, scale: 0)),
        ("1.5e-2", Price(units: 15, scale: 3)), ("007.50", Price(units: 750, scale: 2)),
        ("922337203685477580.7", Price(units: Int64.max, scale: 1)),
    ])
    func parsesExactly(text: String, price: Price) {
        #expect(parseDecimal(text) == .value(price))
    }

    @Test(arguments: ["", " ", "-", ".", "1.2.3", "1,5", "12a", "0x1F", "1e", "1e+", "9223372036854775808",
                      "1e400", "0.0000000000000000001", "--1", "1 2"])
    func rejectsNonNumbers(text: String) {
        #expect(parseDecimal(text) == .invalid)
    }

    @Test(arguments: ["NaN", "nan", "inf", "-Infinity", "+INF"])
    func recognisesNonFinite(text: String) {
        #expect(parseDecimal(text) == .nonFinite)
    }

    @Test func integersAcceptOnlyWholeValues() {
        func int(_ t: String) -> Int64? { var b = Array(t.utf8); return b.withUnsafeMutableBufferPointer { DecimalText.parseInteger(UnsafeBufferPointer($0)) } }
        #expect(int("1000") == 1000)
        #expect(int("1000.00") == 1000)
        #expect(int("1e3") == 1000)
        #expect(int("-5") == -5)
        #expect(int("10.5") == nil)
        #expect(int("x") == nil)
    }
}

@Suite struct TimeTextTests {
    static let base: Int64 = 1_767_592_800 * 1_000_000_000  // 2026-01-05T06:00:00Z

    @Test func epochMagnitudeRule() {
        #expect(parseTime("1767592800") == .instant(Timestamp(nanosecondsSinceEpoch: Self.base)))
        #expect(parseTime("1767592800000") == .instant(Timestamp(nanosecondsSinceEpoch: Self.base)))
        #expect(parseTime("1767592800000000") == .instant(Timestamp(nanosecondsSinceEpoch: Self.base)))
        #expect(parseTime("1767592800000000000") == .instant(Timestamp(nanosecondsSinceEpoch: Self.base)))
        // Boundaries: 99_999_999_999 is seconds (year 5138), 100_000_000_000 is milliseconds (1973).
        #expect(parseTime("100000000000") == .instant(Timestamp(nanosecondsSinceEpoch: 100_000_000_000 * 1_000_000)))
        #expect(parseTime("0") == .instant(Timestamp(nanosecondsSinceEpoch: 0)))
        #expect(parseTime("1767592800123.5") == .instant(Timestamp(nanosecondsSinceEpoch: Self.base + 123_500_000)))
        #expect(parseTime("1767592800123456789.5") == .invalid) // finer than a nanosecond
    }

    @Test func naiveTimesStayNaive() {
        #expect(parseTime("2026-01-05T09:00:00") == .naive(Self.base + 3 * 3600 * 1_000_000_000))
        #expect(parseTime("2026-01-05") == .naive(Self.base - 6 * 3600 * 1_000_000_000))
    }

    @Test func offsetsAndFractions() {
        #expect(parseTime("2026-01-05T09:00:00.000000001+03:00") == .instant(Timestamp(nanosecondsSinceEpoch: Self.base + 1)))
        #expect(parseTime("2026-01-05T05:30:00-00:30") == .instant(Timestamp(nanosecondsSinceEpoch: Self.base)))
        #expect(parseTime("2026-01-05T06:00:60Z") == .instant(Timestamp(nanosecondsSinceEpoch: Self.base + 60_000_000_000)))
    }
}
