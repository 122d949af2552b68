import TickModel

/// Builds the data of a `COPY … FROM STDIN (FORMAT binary)` in memory: the PGCOPY header,
/// one tuple per row (field count, then length-prefixed big-endian values), and the trailer.
///
/// Values are encoded as PostgreSQL's binary send functions do: `timestamptz` as microseconds
/// since 2000-01-01 UTC, `numeric` as base-10000 digits with weight, sign and display scale
/// (so `23.10` keeps its scale 2), `int8` as 8 bytes, `text` as UTF-8.
public struct BinaryCopyWriter {
    public private(set) var bytes: [UInt8] = []
    public private(set) var rows = 0

    /// Seconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
    static let postgresEpochSeconds: Int64 = 946_684_800

    public init(capacity: Int = 1 << 16) {
        bytes.reserveCapacity(capacity)
        bytes.append(contentsOf: Array("PGCOPY\n".utf8))
        bytes.append(contentsOf: [0xFF, 0x0D, 0x0A, 0x00])
        append32(0) // flags
        append32(0) // header extension length
    }

    /// Starts a row of `fields` values.
    public mutating func beginRow(fields: Int16) {
        append16(UInt16(bitPattern: fields))
        rows += 1
    }

    /// Finishes the data; call once, after the last row.
    public mutating func finish() { append16(0xFFFF) }

    public mutating func appendNull() { append32(UInt32(bitPattern: -1)) }

    public mutating func appendInt64(_ value: Int64) {
        append32(8)
        append64(UInt64(bitPattern: value))
    }

    public mutating func appendText(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            append32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// A `timestamptz`, truncated to the microsecond (PostgreSQL's precision).
    public mutating func appendTimestamp(_ time: Timestamp) {
        append32(8)
        append64(UInt64(bitPattern: Self.postgresMicroseconds(time)))
    }

    /// Microseconds since 2000-01-01T00:00:00Z, rounded toward minus infinity.
    public static func postgresMicroseconds(_ time: Timestamp) -> Int64 {
        let ns = time.nanosecondsSinceEpoch
        let (q, r) = ns.quotientAndRemainder(dividingBy: 1000)
        let micros = r < 0 ? q - 1 : q
        return micros - postgresEpochSeconds * 1_000_000
    }

    /// A `numeric` with the exact digits and display scale of `price` (no allocation per value).
    public mutating func appendNumeric(_ price: Price) {
        NumericDigits.withDigits(of: price) { digits, weight in
            append32(UInt32(8 + 2 * digits.count))
            append16(UInt16(digits.count))
            append16(UInt16(bitPattern: weight))
            append16(price.isNegative ? 0x4000 : 0x0000)
            append16(UInt16(price.scale))
            for digit in digits { append16(digit) }
        }
    }

    @inline(__always) mutating func append16(_ v: UInt16) {
        bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF))
    }

    @inline(__always) mutating func append32(_ v: UInt32) {
        bytes.append(UInt8(v >> 24)); bytes.append(UInt8((v >> 16) & 0xFF))
        bytes.append(UInt8((v >> 8) & 0xFF)); bytes.append(UInt8(v & 0xFF))
    }

    @inline(__always) mutating func append64(_ v: UInt64) {
        append32(UInt32(v >> 32)); append32(UInt32(v & 0xFFFF_FFFF))
    }
}

/// A decimal as PostgreSQL's `numeric` stores it: base-10000 digits, most significant first,
/// with `weight` = the power of 10000 of the first digit. Leading and trailing zero groups are
/// dropped (the display scale travels separately).
public struct NumericDigits: Equatable {
    public let digits: [UInt16]
    public let weight: Int16

    public init(digits: [UInt16], weight: Int16) {
        self.digits = digits
        self.weight = weight
    }

    public init(_ price: Price) {
        (digits, weight) = Self.withDigits(of: price) { (Array($0), $1) }
    }

    /// Calls `body` with the base-10000 digits of `price` (most significant first, leading and
    /// trailing zero groups dropped; none for zero) and the weight of the first, from a buffer
    /// on the stack.
    static func withDigits<R>(of price: Price, _ body: (UnsafeBufferPointer<UInt16>, Int16) -> R) -> R {
        let scale = Int(price.scale)
        // Align the fraction to whole groups of four decimal digits.
        let fractionGroups = (scale + 3) / 4
        var wide = UInt128(price.units.magnitude) * UInt128(Self.pow10(fractionGroups * 4 - scale))
        // At most 19 integer digits and 18 fraction digits (+3 of alignment): 10 groups.
        return withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 12) { groups -> R in
            var count = 0   // groups[k], least significant first, has weight k - fractionGroups
            while wide > 0 {
                groups[count] = UInt16(wide % 10_000)
                wide /= 10_000
                count += 1
            }
            var lowest = 0
            while lowest < count && groups[lowest] == 0 { lowest += 1 }
            guard lowest < count else { return body(UnsafeBufferPointer(start: groups.baseAddress, count: 0), 0) }
            // Most significant first: reverse the used part in place.
            var (i, j) = (lowest, count - 1)
            while i < j { groups.swapAt(i, j); i += 1; j -= 1 }
            return body(UnsafeBufferPointer(rebasing: groups[lowest..<count]), Int16(count - 1 - fractionGroups))
        }
    }

    static func pow10(_ n: Int) -> Int {
        var result = 1
        for _ in 0..<n { result *= 10 }
        return result
    }
}
