/// When an exchange trades, in its own wall-clock time: trading weekdays, the pre-open, the
/// continuous session, and the holidays it is closed on.
public struct TradingSession: Sendable, Equatable {
    /// ISO weekdays it trades on: 1 Monday … 7 Sunday.
    public var weekdays: Set<Int>
    /// Seconds after local midnight: the pre-open starts, continuous trading starts, trading ends.
    public var preOpen: Int
    public var open: Int
    public var close: Int
    /// Days it does not trade although a weekday, as days since 1970-01-01.
    public var holidays: Set<Int>

    public init(weekdays: Set<Int>, preOpen: Int, open: Int, close: Int, holidays: Set<Int> = []) {
        self.weekdays = weekdays
        self.preOpen = preOpen
        self.open = open
        self.close = close
        self.holidays = holidays
    }

    /// Where a wall-clock instant falls.
    public enum Phase: String, Sendable, Equatable {
        case nonTradingDay = "non_trading_day"
        case beforePreOpen = "before_pre_open"
        case preOpen = "pre_open"
        case continuous
        case afterClose = "after_close"
    }

    /// The ISO weekday of a day number (1970-01-01 was a Thursday).
    public static func weekday(ofDay day: Int) -> Int {
        let r = (day + 3) % 7
        return (r < 0 ? r + 7 : r) + 1
    }

    public func isTradingDay(_ day: Int) -> Bool {
        weekdays.contains(Self.weekday(ofDay: day)) && !holidays.contains(day)
    }

    /// The phase at `local` seconds since 1970-01-01T00:00 of the exchange's wall clock.
    public func phase(atLocalSeconds local: Int64) -> Phase {
        let day = Int(local >= 0 ? local / 86_400 : (local - 86_399) / 86_400)
        guard isTradingDay(day) else { return .nonTradingDay }
        let second = Int(local - Int64(day) * 86_400)
        if second < preOpen { return .beforePreOpen }
        if second < open { return .preOpen }
        if second < close { return .continuous }
        return .afterClose
    }

    /// Pre-open or continuous trading on a trading day.
    public func isOpen(atLocalSeconds local: Int64) -> Bool {
        let phase = phase(atLocalSeconds: local)
        return phase == .preOpen || phase == .continuous
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (for holiday lists).
    public static func dayNumber(year: Int, month: Int, day: Int) -> Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
