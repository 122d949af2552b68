#if canImport(Glibc)
import Glibc
#endif
/// An instant in UTC as nanoseconds since the Unix epoch (covers 1677…2262).
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanosecondsSinceEpoch: Int64

    public init(nanosecondsSinceEpoch: Int64) { self.nanosecondsSinceEpoch = nanosecondsSinceEpoch }

    public init(secondsSinceEpoch: Int64, nanoseconds: Int64 = 0) {
        self.nanosecondsSinceEpoch = secondsSinceEpoch * 1_000_000_000 + nanoseconds
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }

    /// Whole seconds since the epoch (floor).
    public var secondsSinceEpoch: Int64 {
        let (q, r) = nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: 1_000_000_000)
        return r < 0 ? q - 1 : q
    }

    /// Nanoseconds within the second, 0…999,999,999.
    public var nanosecondOfSecond: Int64 { nanosecondsSinceEpoch - secondsSinceEpoch * 1_000_000_000 }

    /// RFC 3339 in UTC with as many fraction digits as needed (none, 3, 6 or 9).
    public var description: String { rfc3339(fractionDigits: nil) }

    /// RFC 3339 in UTC; `fractionDigits` nil picks the shortest of 0/3/6/9 that is exact.
    public func rfc3339(fractionDigits: Int?) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        writeRFC3339(to: &bytes, fractionDigits: fractionDigits)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends RFC 3339 UTC text (`2026-01-05T06:00:00.123Z`) as ASCII bytes.
    public func writeRFC3339(to buffer: inout [UInt8], fractionDigits: Int?) {
        let seconds = secondsSinceEpoch
        let nanos = nanosecondOfSecond
        let (y, m, d) = CivilDate.fromDays(Self.floorDiv(seconds, 86_400))
        let secondOfDay = seconds - Self.floorDiv(seconds, 86_400) * 86_400
        func put(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            while divisor > 0 {
                buffer.append(UInt8(ascii: "0") + UInt8(v / divisor))
                v %= divisor
                divisor /= 10
            }
        }
        put(y, 4); buffer.append(UInt8(ascii: "-")); put(m, 2); buffer.append(UInt8(ascii: "-")); put(d, 2)
        buffer.append(UInt8(ascii: "T"))
        put(secondOfDay / 3600, 2); buffer.append(UInt8(ascii: ":"))
        put(secondOfDay / 60 % 60, 2); buffer.append(UInt8(ascii: ":"))
        put(secondOfDay % 60, 2)
        let digits: Int
        if let fractionDigits {
            digits = fractionDigits
        } else if nanos == 0 {
            digits = 0
        } else if nanos % 1_000_000 == 0 {
            digits = 3
        } else if nanos % 1_000 == 0 {
            digits = 6
        } else {
            digits = 9
        }
        if digits > 0 {
            buffer.append(UInt8(ascii: "."))
            var scaled = nanos
            for _ in digits..<9 { scaled /= 10 }
            put(scaled, digits)
        }
        buffer.append(UInt8(ascii: "Z"))
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? q - 1 : q
    }
}

/// Proleptic Gregorian calendar arithmetic (Howard Hinnant's days-from-civil algorithms).
public enum CivilDate {
    /// Days since 1970-01-01 of a calendar date (month 1…12, day 1…31).
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The calendar date of a day count since 1970-01-01.
    public static func fromDays(_ z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Days in a month of a year (leap years by the Gregorian rule).
    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Timestamp {
    /// The system clock now.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(secondsSinceEpoch: Int64(spec.tv_sec), nanoseconds: Int64(spec.tv_nsec))
    }
}
