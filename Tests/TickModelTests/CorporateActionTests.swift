import Testing
import TickModel

/// `symbol,ex_date,kind,ratio` lines as `tickd corporate-actions import` reads them.
@Suite struct CorporateActionParsingTests {
    @Test func linesBecomeActionsWithTheirRatioAsNewToOldShares() throws {
        let split = try CorporateAction.parse("scom, 2026-03-09 ,Split,2:1").get()
        #expect(split == CorporateAction(symbol: "SCOM", exDate: TradingSession.dayNumber(year: 2026, month: 3, day: 9), kind: .split,
                                         newShares: 2, oldShares: 1))
        #expect(split.exDateText == "2026-03-09")
        #expect(try CorporateAction.parse("KCB,2024-02-29,bonus,11:10").get().exDateText == "2024-02-29")
        #expect(try CorporateAction.parse("EABL,2026-12-31,consolidation,1:10").get().oldShares == 10)
    }

    @Test func aBadLineSaysWhatIsWrong() {
        let cases = [("SCOM,2026-03-09,split", "expected symbol,ex_date,kind,ratio, got 3 cells"),
                     (",2026-03-09,split,2:1", "the symbol is empty"),
                     ("SCOM,2025-02-29,split,2:1", "ex_date '2025-02-29' is not a date (YYYY-MM-DD)"),
                     ("SCOM,09/03/2026,split,2:1", "ex_date '09/03/2026' is not a date (YYYY-MM-DD)"),
                     ("SCOM,2026-03-09,rights,2:1", "kind 'rights' is not split, bonus or consolidation"),
                     ("SCOM,2026-03-09,split,2", "ratio '2' is not new:old in whole shares (2:1, 11:10, 1:10)"),
                     ("SCOM,2026-03-09,split,0:1", "ratio '0:1' is not new:old in whole shares (2:1, 11:10, 1:10)"),
                     ("SCOM,2026-03-09,bonus,10:11", "a bonus gives more shares than it takes: new:old with new > old, got 10:11"),
                     ("SCOM,2026-03-09,consolidation,10:1", "a consolidation gives fewer shares than it takes: new:old with new < old, got 10:1")]
        for (line, message) in cases {
            #expect(throws: CorporateAction.ParseError.self, "\(line)") { try CorporateAction.parse(line).get() }
            if case .failure(let error) = CorporateAction.parse(line) { #expect(error.description == message, "\(line)") }
        }
    }
}
