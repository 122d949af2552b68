import TickModel

/// The fields a feed record can carry, whatever the feed calls them.
public enum TickField: Int, CaseIterable, Sendable, CustomStringConvertible {
    case time, symbol, open, high, low, close, volume, price, sequence, action, status

    /// Names accepted for each field, compared case-insensitively.
    public var aliases: [String] {
        switch self {
        case .time: return ["time", "timestamp", "ts", "datetime", "date"]
        case .symbol: return ["symbol", "ticker", "sym", "code"]
        case .open: return ["open"]
        case .high: return ["high"]
        case .low: return ["low"]
        case .close: return ["close"]
        case .volume: return ["volume", "vol", "qty", "size"]
        case .price: return ["price", "last", "px"]
        case .sequence: return ["seq", "sequence", "trade_id"]
        case .action: return ["action", "type", "event"]
        case .status: return ["status", "state", "phase"]
        }
    }

    /// The canonical name (the first alias).
    public var description: String { aliases[0] }

    /// Looks up a field name (case-insensitive, surrounding blanks ignored) without allocating.
    public static func named(_ name: UnsafeBufferPointer<UInt8>) -> TickField? {
        var start = 0, end = name.count
        while start < end && DecimalText.isBlank(name[start]) { start += 1 }
        while end > start && DecimalText.isBlank(name[end - 1]) { end -= 1 }
        guard let key = PackedName(UnsafeBufferPointer(rebasing: name[start..<end]), lowercased: true) else { return nil }
        for entry in aliasTable where entry.0 == key { return entry.1 }
        return nil
    }

    /// Looks up a field name given as a string.
    public static func named(_ name: String) -> TickField? {
        var copy = Array(name.utf8)
        return copy.withUnsafeMutableBufferPointer { named(UnsafeBufferPointer($0)) }
    }

    private static let aliasTable: [(PackedName, TickField)] = TickField.allCases.flatMap { field in
        field.aliases.map { alias in
            (Array(alias.utf8).withUnsafeBufferPointer { PackedName($0, lowercased: true)! }, field)
        }
    }
}

extension TradeAction {
    /// Reads a record's action: `trade`, `correct` (or `correction`), `cancel` (or `cancelled`,
    /// `canceled`), `status`, any case, surrounding blanks ignored; an empty one is a trade; nil for
    /// anything else.
    public static func named(_ text: UnsafeBufferPointer<UInt8>) -> TradeAction? {
        var start = 0, end = text.count
        while start < end && DecimalText.isBlank(text[start]) { start += 1 }
        while end > start && DecimalText.isBlank(text[end - 1]) { end -= 1 }
        if start == end { return .trade }
        guard let key = PackedName(UnsafeBufferPointer(rebasing: text[start..<end]), lowercased: true) else { return nil }
        for entry in names where entry.0 == key { return entry.1 }
        return nil
    }

    private static let names: [(PackedName, TradeAction)] = [
        ("trade", .trade), ("correct", .correct), ("correction", .correct), ("cancel", .cancel), ("cancelled", .cancel), ("canceled", .cancel),
        ("status", .status),
    ].map { name, action in (Array(name.utf8).withUnsafeBufferPointer { PackedName($0, lowercased: true)! }, action) }
}

/// Up to 16 bytes packed into two words, for allocation-free comparisons of short names.
public struct PackedName: Hashable, Sendable {
    public let low: UInt64
    public let high: UInt64
    public let count: UInt8

    /// Nil when `bytes` is longer than 16.
    public init?(_ bytes: UnsafeBufferPointer<UInt8>, lowercased: Bool = false) {
        guard bytes.count <= 16 else { return nil }
        var a: UInt64 = 0, b: UInt64 = 0
        for k in 0..<bytes.count {
            var c = bytes[k]
            if lowercased && c &- 65 < 26 { c |= 0x20 }
            if k < 8 { a |= UInt64(c) << (8 * UInt64(k)) } else { b |= UInt64(c) << (8 * UInt64(k - 8)) }
        }
        low = a
        high = b
        count = UInt8(bytes.count)
    }
}
