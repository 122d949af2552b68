import Testing
import TickModel

/// The NSE's session: Monday to Friday, pre-open 09:00, continuous 09:30-15:00, holidays closed.
@Suite struct TradingSessionTests {
    static let newYear = TradingSession.dayNumber(year: 2026, month: 1, day: 1)
    static let nse = TradingSession(weekdays: [1, 2, 3, 4, 5], preOpen: 9 * 3600, open: 9 * 3600 + 1800, close: 15 * 3600,
                                    holidays: [newYear])

    static func local(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int) -> Int64 {
        Int64(TradingSession.dayNumber(year: year, month: month, day: day)) * 86_400 + Int64(hour * 3600 + minute * 60)
    }

    @Test func daysAndWeekdays() {
        #expect(TradingSession.dayNumber(year: 1970, month: 1, day: 1) == 0)
        #expect(TradingSession.dayNumber(year: 2026, month: 1, day: 5) == 20458)
        #expect(TradingSession.weekday(ofDay: 0) == 4)                                                   // Thursday
        #expect(TradingSession.weekday(ofDay: TradingSession.dayNumber(year: 2026, month: 1, day: 5)) == 1)   // Monday
        #expect(TradingSession.weekday(ofDay: TradingSession.dayNumber(year: 2026, month: 11, day: 29)) == 7) // Sunday
        #expect(TradingSession.weekday(ofDay: -1) == 3)
    }

    @Test func phasesAtTheirEdges() {
        for (hour, minute, phase) in [(8, 59, TradingSession.Phase.beforePreOpen), (9, 0, .preOpen), (9, 29, .preOpen),
                                      (9, 30, .continuous), (14, 59, .continuous), (15, 0, .afterClose)] {
            #expect(Self.nse.phase(atLocalSeconds: Self.local(2026, 1, 5, hour, minute)) == phase, "\(hour):\(minute)")
        }
        #expect(Self.nse.isOpen(atLocalSeconds: Self.local(2026, 1, 5, 9, 0)))
        #expect(!Self.nse.isOpen(atLocalSeconds: Self.local(2026, 1, 5, 15, 0)))
        #expect(Self.nse.phase(atLocalSeconds: Self.local(2026, 1, 3, 11, 0)) == .nonTradingDay)   // Saturday
        #expect(Self.nse.phase(atLocalSeconds: Self.local(2026, 1, 1, 11, 0)) == .nonTradingDay)   // New Year's Day, a Thursday
    }
}
