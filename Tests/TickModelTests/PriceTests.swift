import Testing
import TickModel

@Suite struct PriceTests {
    @Test(arguments: [
        (Price(units: 2310, scale: 2), "23.10"), (Price(units: 5, scale: 2), "0.05"),
        (Price(units: -5, scale: 3), "-0.005"), (Price(units: 140, scale: 0), "140"),
        (Price(units: 0, scale: 0), "0"), (Price(units: 0, scale: 2), "0.00"),
        (Price(units: Int64.max, scale: 18), "9.223372036854775807"),
        (Price(units: Int64.min, scale: 0), "-9223372036854775808"),
    ])
    func writesExactDecimalText(price: Price, text: String) {
        #expect(price.description == text)
    }

    @Test func comparesNumericallyAcrossScales() {
        let a = Price(units: 231, scale: 1), b = Price(units: 2310, scale: 2)
        #expect(a != b)                 // representation differs…
        #expect(a.compare(b) == 0)      // …the value does not
        #expect(Price(units: 2309, scale: 2).isLess(than: a))
        #expect(Price.max(Price(units: 1, scale: 0), Price(units: 150, scale: 2)) == Price(units: 150, scale: 2))
        #expect(Price.min(Price(units: Int64.max, scale: 0), Price(units: Int64.max, scale: 18)) == Price(units: Int64.max, scale: 18))
    }
}

@Suite struct TimestampTests {
    @Test func formatsRFC3339WithShortestExactFraction() {
        #expect(Timestamp(secondsSinceEpoch: 1_767_592_800).description == "2026-01-05T06:00:00Z")
        #expect(Timestamp(secondsSinceEpoch: 1_767_592_800, nanoseconds: 120_000_000).description == "2026-01-05T06:00:00.120Z")
        #expect(Timestamp(secondsSinceEpoch: 1_767_592_800, nanoseconds: 1_000).description == "2026-01-05T06:00:00.000001Z")
        #expect(Timestamp(secondsSinceEpoch: 1_767_592_800, nanoseconds: 1).description == "2026-01-05T06:00:00.000000001Z")
        #expect(Timestamp(secondsSinceEpoch: 1_767_592_800, nanoseconds: 5).rfc3339(fractionDigits: 3) == "2026-01-05T06:00:00.000Z")
        #expect(Timestamp(nanosecondsSinceEpoch: -1).description == "1969-12-31T23:59:59.999999999Z")
    }

    @Test func civilDateRoundTrips() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (y, m, d) = CivilDate.fromDays(days)
            #expect(CivilDate.days(year: y, month: m, day: d) == days)
            #expect(d >= 1 && d <= CivilDate.daysInMonth(year: y, month: m))
        }
        #expect(CivilDate.days(year: 2026, month: 1, day: 5) == 20_458)
        #expect(CivilDate.daysInMonth(year: 2024, month: 2) == 29)
        #expect(CivilDate.daysInMonth(year: 1900, month: 2) == 28)
        #expect(CivilDate.daysInMonth(year: 2000, month: 2) == 29)
    }
}
