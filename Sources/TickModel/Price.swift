/// An exact decimal price: `units × 10^-scale`, e.g. 23.10 is (2310, 2).
///
/// The scale is kept as written, so `23.10` travels to the database and Redis as `23.10`,
/// never through a binary float. Equality is by representation (23.1 ≠ 23.10); use
/// `compare(_:)` / `isLess(than:)` for numeric order.
public struct Price: Hashable, Sendable, CustomStringConvertible {
    /// The digits as an integer.
    public var units: Int64
    /// How many of those digits are after the decimal point (0…18).
    public var scale: UInt8

    /// The largest scale a price may have.
    public static let maxScale: UInt8 = 18

    public init(units: Int64, scale: UInt8) {
        precondition(scale <= Price.maxScale, "scale out of range")
        self.units = units
        self.scale = scale
    }

    public static let zero = Price(units: 0, scale: 0)

    /// True when the value is below zero.
    public var isNegative: Bool { units < 0 }

    /// Numeric three-way comparison across scales: -1, 0 or 1.
    public func compare(_ other: Price) -> Int {
        let (a, b) = Self.aligned(self, other)
        return a < b ? -1 : (a == b ? 0 : 1)
    }

    /// Numeric `<` across scales.
    public func isLess(than other: Price) -> Bool { compare(other) < 0 }

    /// The numerically smaller of two prices (the first when equal).
    public static func min(_ a: Price, _ b: Price) -> Price { b.isLess(than: a) ? b : a }
    /// The numerically larger of two prices (the first when equal).
    public static func max(_ a: Price, _ b: Price) -> Price { a.isLess(than: b) ? b : a }

    static func aligned(_ a: Price, _ b: Price) -> (Int128, Int128) {
        var x = Int128(a.units), y = Int128(b.units)
        if a.scale < b.scale { x *= Self.power(b.scale - a.scale) }
        if b.scale < a.scale { y *= Self.power(a.scale - b.scale) }
        return (x, y)
    }

    /// 10^n, for aligning scales.
    public static func power(_ n: UInt8) -> Int128 {
        var result: Int128 = 1
        for _ in 0..<n { result *= 10 }
        return result
    }

    /// The plain decimal text, e.g. `23.10`, `-0.05`, `140`.
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        write(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the plain decimal text as ASCII bytes.
    public func write(to buffer: inout [UInt8]) {
        if units < 0 { buffer.append(UInt8(ascii: "-")) }
        let scale = Int(self.scale)
        var digitCount = 1
        var rest = units.magnitude
        while rest >= 10 { rest /= 10; digitCount += 1 }
        let digits = Swift.max(digitCount, scale + 1)          // at least "0." before a fraction
        let width = digits + (scale > 0 ? 1 : 0)
        buffer.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
        var position = buffer.count - 1
        var magnitude = units.magnitude
        for i in 0..<digits {
            if i == scale && scale > 0 { buffer[position] = UInt8(ascii: "."); position -= 1 }
            buffer[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            position -= 1
        }
    }
}
