import Testing
import TickModel

/// The NSE price grid: the tick of each band, rounding to the nearest tick at every band edge.
@Suite struct TickSizeTableTests {
    static func p(_ text: String) -> Price {
        let parts = text.split(separator: ".")
        let scale = parts.count == 2 ? UInt8(parts[1].count) : 0
        return Price(units: Int64(String(text.filter { $0 != "." }))!, scale: scale)
    }

    static let nse = TickSizeTable([("0", "0.01"), ("5.00", "0.02"), ("10.00", "0.05"), ("50.00", "0.25"), ("500.00", "1.00"),
                                    ("1000.00", "5.00")].map { TickSizeTable.Band(from: p($0.0), tick: p($0.1)) })!

    @Test func eachBandHasItsTickAndItsLowerBoundBelongsToIt() {
        for (price, tick) in [("0.01", "0.01"), ("4.99", "0.01"), ("5.00", "0.02"), ("9.98", "0.02"), ("10.00", "0.05"),
                              ("49.95", "0.05"), ("50.00", "0.25"), ("499.75", "0.25"), ("500.00", "1.00"), ("999", "1.00"),
                              ("1000.00", "5.00"), ("2500", "5.00")] {
            #expect(Self.nse.tick(at: Self.p(price)) == Self.p(tick), "\(price)")
        }
    }

    @Test func roundingGoesToTheNearestTickHalvesUpAtEveryBandEdge() {
        for (price, rounded) in [
            ("4.994", "4.99"), ("4.995", "5.00"), ("4.9999", "5.00"),          // 0.01 band, up to the edge
            ("5.00", "5.00"), ("5.009", "5.00"), ("5.01", "5.02"), ("9.989", "9.98"), ("9.99", "10.00"),  // 0.02
            ("10.00", "10.00"), ("10.024", "10.00"), ("10.025", "10.05"), ("23.124", "23.10"), ("23.125", "23.15"),
            ("49.97", "49.95"), ("49.975", "50.00"),                           // 0.05, then across into 0.25
            ("50.00", "50.00"), ("50.12", "50.00"), ("50.125", "50.25"), ("499.87", "499.75"), ("499.875", "500.00"),
            ("500.00", "500.00"), ("500.49", "500.00"), ("500.5", "501.00"), ("999.5", "1000.00"),
            ("1000.00", "1000.00"), ("1002.49", "1000.00"), ("1002.5", "1005.00"), ("51.7512345", "51.75"),
        ] {
            #expect(Self.nse.rounded(Self.p(price)).description == rounded, "\(price)")
        }
    }

    @Test func onGridPricesAreWholeTicksOfTheirBand() {
        #expect(Self.nse.isOnGrid(Self.p("23.10")) && Self.nse.isOnGrid(Self.p("23.1")) && Self.nse.isOnGrid(Self.p("4.99")))
        #expect(!Self.nse.isOnGrid(Self.p("23.12")) && !Self.nse.isOnGrid(Self.p("5.01")) && !Self.nse.isOnGrid(Self.p("50.10")))
        #expect(Self.nse.isOnGrid(Self.p("1005")) && !Self.nse.isOnGrid(Self.p("1001")))
    }

    @Test func aTableMustStartAtZeroAscendAndHavePositiveTicks() {
        let band = { (from: String, tick: String) in TickSizeTable.Band(from: Self.p(from), tick: Self.p(tick)) }
        #expect(TickSizeTable([band("1.00", "0.01")]) == nil)
        #expect(TickSizeTable([band("0", "0.01"), band("5", "0.02"), band("5", "0.05")]) == nil)
        #expect(TickSizeTable([band("0", "0")]) == nil)
        #expect(TickSizeTable([]) == nil)
    }
}
