import Testing
import TickModel

/// The NSE's daily limit and tick grid as `PriceCheck` applies them.
@Suite struct PriceCheckTests {
    static let p = TickSizeTableTests.p
    static let nse = PriceCheck(limitPercent: p("10"), tickSizes: TickSizeTableTests.nse)

    /// Previous closes whose 10 % band ends on the grid, one per tick-size band and at its edges:
    /// a trade exactly on the limit is within it, one tick beyond is not.
    @Test func aTradeOnTheLimitIsWithinAndOneTickBeyondIsHeldBack() {
        for (close, low, high, below, above) in [
            ("3.00", "2.70", "3.30", "2.69", "3.31"),            // 0.01 band
            ("5.00", "4.50", "5.50", "4.49", "5.52"),            // limits across the 5.00 edge: 0.01 below, 0.02 above
            ("8.00", "7.20", "8.80", "7.18", "8.82"),            // 0.02
            ("10.00", "9.00", "11.00", "8.98", "11.05"),         // across 10.00: 0.02 below, 0.05 above
            ("23.00", "20.70", "25.30", "20.65", "25.35"),       // 0.05
            ("50.00", "45.00", "55.00", "44.95", "55.25"),       // across 50.00: 0.05 below, 0.25 above
            ("250.00", "225.00", "275.00", "224.75", "275.25"),  // 0.25
            ("500.00", "450.00", "550.00", "449.75", "551.00"),  // across 500.00
            ("1000.00", "900.00", "1100.00", "899.00", "1105.00"), // across 1,000.00: 1.00 below, 5.00 above
        ] {
            let reference = Self.p(close)
            for inside in [low, high, close] {
                #expect(Self.nse.violations(of: Self.p(inside), previousClose: reference, limitPercent: Self.p("10")) == [], "\(inside) for \(close)")
            }
            for outside in [below, above] {
                #expect(Self.nse.violations(of: Self.p(outside), previousClose: reference, limitPercent: Self.p("10")) == [.priceLimit],
                        "\(outside) for \(close)")
            }
        }
    }

    @Test func theShiftedDecimalOfTheIssueIsCaughtAndAnOffTickPrintFlagged() {
        #expect(Self.nse.violations(of: Self.p("2310"), previousClose: Self.p("23.10"), limitPercent: Self.p("10")) == [.priceLimit])
        #expect(Self.nse.violations(of: Self.p("23.12"), previousClose: Self.p("23.10"), limitPercent: Self.p("10")) == [.offTick])
        #expect(Self.nse.violations(of: Self.p("30.02"), previousClose: Self.p("23.10"), limitPercent: Self.p("10")) == [.priceLimit, .offTick])
    }

    @Test func aLiftedLimitOrAnUnknownPreviousCloseChecksOnlyTheGrid() {
        #expect(Self.nse.violations(of: Self.p("26.55"), previousClose: Self.p("23.10"), limitPercent: nil) == [])
        #expect(Self.nse.violations(of: Self.p("26.55"), previousClose: nil, limitPercent: Self.p("10")) == [])
        #expect(Self.nse.violations(of: Self.p("26.55"), previousClose: Self.p("23.10"), limitPercent: Self.p("15")) == [])
    }

    @Test func theStrictestActionOfAPrintsViolationsWins() {
        let check = PriceCheck(limitPercent: Self.p("10"), tickSizes: TickSizeTableTests.nse, onPriceLimit: .quarantine, onOffTick: .accept)
        #expect(check.action(for: []) == nil)
        #expect(check.action(for: [.offTick]) == .accept)
        #expect(check.action(for: [.priceLimit, .offTick]) == .quarantine)
        var rejecting = check
        rejecting.onOffTick = .reject
        #expect(rejecting.action(for: [.priceLimit, .offTick]) == .reject)
    }
}
