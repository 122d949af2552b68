/// Why a record was rejected. The raw values are stable codes: they appear in dead-letter
/// files, reports and metrics, and other software matches on them.
public enum RejectReason: String, CaseIterable, Sendable, Comparable {
    /// A required field (time, symbol, volume, and price or all of open/high/low/close) is absent or empty.
    case missingField = "missing_field"
    /// A price, volume or sequence is not a number (or out of range, or a fractional volume).
    case badNumber = "bad_number"
    /// The time is not in any accepted form, or not a valid date.
    case badTime = "bad_time"
    /// A price is NaN or infinite.
    case nonFinitePrice = "non_finite_price"
    /// A price is below zero.
    case negativePrice = "negative_price"
    /// The volume is below zero.
    case negativeVolume = "negative_volume"
    /// low > min(open, close).
    case lowAboveOpenClose = "low_above_open_close"
    /// high < max(open, close).
    case highBelowOpenClose = "high_below_open_close"
    /// The symbol is not a listed instrument (with the `reject` policy).
    case unknownSymbol = "unknown_symbol"
    /// The symbol is longer than 32 bytes or holds blanks or control characters.
    case badSymbol = "bad_symbol"
    /// The time is further in the future than the configured clock skew allows.
    case futureTime = "future_time"
    /// The line is longer than the configured limit.
    case lineTooLong = "line_too_long"
    /// The line is not valid UTF-8.
    case invalidUTF8 = "invalid_utf8"
    /// The CSV line cannot be split (unterminated quote, text after a closing quote).
    case malformedCSV = "malformed_csv"
    /// The JSON line is not one well-formed object.
    case malformedJSON = "malformed_json"
    /// The trade is outside its day's limit band around the previous close (action `reject`).
    case priceLimit = "price_limit"
    /// The price is not on the exchange's tick grid (action `reject`).
    case offTick = "off_tick"
    /// The record's action is not `trade`, `correct`, `cancel` or `status`.
    case unknownAction = "unknown_action"
    /// A status record's status is missing from the words it may be (an instrument: `halted`,
    /// `suspended`, `resumed`; the market: `pre_open`, `open`, `closed`, `halted`, `resumed`).
    case unknownStatus = "unknown_status"
    /// A trade printed while its instrument was halted or suspended, or the market halted
    /// (action `reject`; checked when the batch is written, redrivable after the resumption).
    case halted
    /// A correction or cancel names a trade that is not stored (checked when the batch is
    /// written; redrivable once the trade is in).
    case unknownTrade = "unknown_trade"
    /// The publisher (a TLS listener's client certificate) may not send this symbol
    /// (`publishers:`); the detail names the publisher.
    case notEntitled = "not_entitled"

    public static func < (lhs: RejectReason, rhs: RejectReason) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A rejected record: the reason code and a human-readable detail.
public struct Reject: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: RejectReason
    public var detail: String

    public init(_ reason: RejectReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}
