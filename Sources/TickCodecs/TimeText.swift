import TickModel

/// What a time field held.
public enum TimeParse: Equatable, Sendable {
    /// An instant: RFC 3339 with `Z` or an offset, or an epoch number.
    case instant(Timestamp)
    /// A wall-clock time with no zone (`2026-01-05 09:30:00`): nanoseconds since 1970-01-01T00:00
    /// of that wall clock, to be placed in the exchange's time zone by the normaliser.
    case naive(Int64)
    case invalid
}

/// Parses time text from bytes.
///
/// Forms:
/// - RFC 3339 / ISO 8601: `YYYY-MM-DD`, then `T`, `t` or a space, `HH:MM[:SS[.fraction]]`, then
///   `Z`, `±HH:MM`, `±HHMM` or `±HH`; a fraction has up to 9 digits (`.` or `,`). A date alone is
///   midnight. Without a zone the time is naive (exchange time).
/// - Epoch numbers (digits, optional sign and `.fraction`), unit chosen by the magnitude of the
///   integer part: below 10^11 seconds, below 10^14 milliseconds, below 10^17 microseconds,
///   otherwise nanoseconds. (10^11 s is the year 5138; 10^11 ms is 1973-03-03.)
public enum TimeText {
    public static func parse(_ text: UnsafeBufferPointer<UInt8>) -> TimeParse {
        var i = 0, end = text.count
        while i < end && DecimalText.isBlank(text[i]) { i += 1 }
        while end > i && DecimalText.isBlank(text[end - 1]) { end -= 1 }
        guard end - i >= 1 else { return .invalid }
        let body = UnsafeBufferPointer(rebasing: text[i..<end])
        if body.count >= 10 && body[4] == UInt8(ascii: "-") { return parseISO(body) }
        return parseEpoch(body)
    }

    static func parseEpoch(_ t: UnsafeBufferPointer<UInt8>) -> TimeParse {
        var i = 0
        var negative = false
        if t[0] == UInt8(ascii: "-") || t[0] == UInt8(ascii: "+") { negative = t[0] == UInt8(ascii: "-"); i = 1 }
        var whole: Int64 = 0
        var wholeDigits = 0
        while i < t.count && DecimalText.isDigit(t[i]) {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(t[i] &- 48))
            if o1 || o2 { return .invalid }
            whole = a
            wholeDigits += 1
            i += 1
        }
        guard wholeDigits > 0 else { return .invalid }
        var fraction: Int64 = 0, fractionDigits = 0
        if i < t.count && t[i] == UInt8(ascii: ".") {
            i += 1
            while i < t.count && DecimalText.isDigit(t[i]) {
                if fractionDigits < 18 { fraction = fraction * 10 + Int64(t[i] &- 48); fractionDigits += 1 }
                else if t[i] != UInt8(ascii: "0") { return .invalid }
                i += 1
            }
        }
        guard i == t.count else { return .invalid }
        // Unit by magnitude: nanoseconds per unit.
        let perUnit: Int64
        switch whole {
        case ..<100_000_000_000: perUnit = 1_000_000_000
        case ..<100_000_000_000_000: perUnit = 1_000_000
        case ..<100_000_000_000_000_000: perUnit = 1_000
        default: perUnit = 1
        }
        // The fraction, in nanoseconds; digits finer than a nanosecond must be zero.
        var fractionNanos: Int64 = 0
        if fractionDigits > 0 {
            var scale: Int64 = 1
            for _ in 0..<fractionDigits { scale *= 10 }
            let product = fraction.multipliedFullWidth(by: perUnit)
            let (q, r) = scale.dividingFullWidth(product)
            if r != 0 { return .invalid }
            fractionNanos = q
        }
        let (wholeNanos, overflow) = whole.multipliedReportingOverflow(by: perUnit)
        guard !overflow else { return .invalid }
        let (total, overflow2) = wholeNanos.addingReportingOverflow(fractionNanos)
        guard !overflow2 else { return .invalid }
        return .instant(Timestamp(nanosecondsSinceEpoch: negative ? -total : total))
    }

    static func parseISO(_ t: UnsafeBufferPointer<UInt8>) -> TimeParse {
        let n = t.count
        func digits(_ at: Int, _ count: Int) -> Int64? {
            guard at + count <= n else { return nil }
            var v: Int64 = 0
            for k in at..<(at + count) {
                guard DecimalText.isDigit(t[k]) else { return nil }
                v = v * 10 + Int64(t[k] &- 48)
            }
            return v
        }
        guard let year = digits(0, 4), t[4] == UInt8(ascii: "-"), let month = digits(5, 2),
              n >= 10, t[7] == UInt8(ascii: "-"), let day = digits(8, 2),
              (1...12).contains(month), day >= 1, day <= CivilDate.daysInMonth(year: year, month: month)
        else { return .invalid }
        var hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0, nanos: Int64 = 0
        var i = 10
        if i < n && (t[i] == UInt8(ascii: "T") || t[i] == UInt8(ascii: "t") || t[i] == UInt8(ascii: " ")) {
            guard let h = digits(i + 1, 2), i + 3 < n, t[i + 3] == UInt8(ascii: ":"), let m = digits(i + 4, 2),
                  h < 24, m < 60 else { return .invalid }
            hour = h; minute = m
            i += 6
            if i < n && t[i] == UInt8(ascii: ":") {
                guard let s = digits(i + 1, 2), s <= 60 else { return .invalid }
                second = s
                i += 3
                if i < n && (t[i] == UInt8(ascii: ".") || t[i] == UInt8(ascii: ",")) {
                    i += 1
                    var count = 0
                    while i < n && DecimalText.isDigit(t[i]) {
                        guard count < 9 else { return .invalid }  // finer than a nanosecond
                        nanos = nanos * 10 + Int64(t[i] &- 48)
                        count += 1
                        i += 1
                    }
                    guard count > 0 else { return .invalid }
                    for _ in count..<9 { nanos *= 10 }
                }
            }
        }
        let days = CivilDate.days(year: year, month: month, day: day)
        let wallSeconds = days * 86_400 + hour * 3600 + minute * 60 + second
        // Representable as Int64 nanoseconds (1677-09-21 … 2262-04-11).
        guard wallSeconds > -9_223_372_036 + 86_400, wallSeconds < 9_223_372_036 - 86_400 else { return .invalid }
        let wall = wallSeconds * 1_000_000_000 + nanos
        if i == n { return .naive(wall) }
        if (t[i] == UInt8(ascii: "Z") || t[i] == UInt8(ascii: "z")) && i + 1 == n {
            return .instant(Timestamp(nanosecondsSinceEpoch: wall))
        }
        guard t[i] == UInt8(ascii: "+") || t[i] == UInt8(ascii: "-") else { return .invalid }
        let sign: Int64 = t[i] == UInt8(ascii: "-") ? -1 : 1
        guard let oh = digits(i + 1, 2), oh <= 23 else { return .invalid }
        var om: Int64 = 0
        var j = i + 3
        if j < n && t[j] == UInt8(ascii: ":") { j += 1 }
        if j < n {
            guard let m = digits(j, 2), m < 60, j + 2 == n else { return .invalid }
            om = m
        }
        let offset = sign * (oh * 3600 + om * 60)
        return .instant(Timestamp(nanosecondsSinceEpoch: wall - offset * 1_000_000_000))
    }
}
