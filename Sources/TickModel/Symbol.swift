/// An instrument's ticker on the exchange, normalised: trimmed, upper-case, no exchange
/// prefix or suffix, aliases resolved (`SCOM`, `EQTY`, `KCB`).
public struct Symbol: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }
}
