import TickCodecs
import TickModel

/// Turns raw records into ticks, or into rejects with a reason.
///
/// A status record (`action` `status`) needs a time and a status, and names an instrument, or
/// the market with an empty symbol, `*` or `MARKET`.
///
/// Rules are checked in this order and the first that fails names the reject: the action is
/// known; required fields present (a correction or cancel names its trade id; a cancel needs no
/// price or volume); time parses; symbol cleans up and is accepted; prices parse, are finite and not
/// negative; volume is a whole number and not negative; seq parses; low ≤ min(open, close)
/// and high ≥ max(open, close); time not beyond `now + maxFutureSkew`.
public struct Normaliser: Sendable {
    /// The clock the future-skew rule compares against; the caller refreshes it.
    public var now: Timestamp
    public var zone: ExchangeZone
    public let symbols: SymbolRules
    /// How far ahead of `now` a tick's time may be, in nanoseconds.
    public let maxFutureSkew: Int64

    private var symbolCache: [PackedName: Result<Symbol, SymbolRules.RejectOrMissing>] = [:]
    /// The listing's version the cache was filled under (its results, unknown symbols included,
    /// hold until the listing changes).
    private var cachedListingVersion = 0
    private static let symbolCacheLimit = 4096

    public init(zone: ExchangeZone = .nairobi, symbols: SymbolRules, maxFutureSkewSeconds: Int64 = 300,
                now: Timestamp) {
        self.zone = zone
        self.symbols = symbols
        self.maxFutureSkew = maxFutureSkewSeconds * 1_000_000_000
        self.now = now
    }

    public mutating func normalise(_ record: RawRecord) -> Result<Tick, Reject> {
        var action = TradeAction.trade
        if let actionText = record[.action] {
            guard let named = TradeAction.named(actionText) else {
                return .failure(Reject(.unknownAction, "action '\(Self.text(actionText))' is not trade, correct, cancel or status"))
            }
            action = named
        }
        if action == .status { return status(record) }
        guard let timeText = record[.time] else { return .failure(Reject(.missingField, "time is missing")) }
        guard let symbolText = record[.symbol] else { return .failure(Reject(.missingField, "symbol is missing")) }
        if action.isAmendment && record[.sequence] == nil {
            return .failure(Reject(.missingField, "a \(action) names its trade by trade_id (seq), which is missing"))
        }
        // Checked before the values, so that the first rule that fails names the reject.
        if action != .cancel && record[.volume] == nil { return .failure(Reject(.missingField, "volume is missing")) }

        let time: Timestamp
        switch instant(timeText) {
        case .success(let parsed): time = parsed
        case .failure(let reject): return .failure(reject)
        }

        let symbol: Symbol
        switch symbolFor(symbolText) {
        case .success(let s): symbol = s
        case .failure(.missing): return .failure(Reject(.missingField, "symbol is empty"))
        case .failure(.reject(let reject)): return .failure(reject)
        }
        if action == .cancel, let tradeID = record[.sequence] { return cancel(at: time, of: symbol, tradeID: tradeID) }
        guard let volumeText = record[.volume] else { return .failure(Reject(.missingField, "volume is missing")) }

        var open, high, low, close: Price
        if let o = record[.open], let h = record[.high], let l = record[.low], let c = record[.close] {
            switch (Self.price(o, .open), Self.price(h, .high), Self.price(l, .low), Self.price(c, .close)) {
            case (.success(let po), .success(let ph), .success(let pl), .success(let pc)):
                (open, high, low, close) = (po, ph, pl, pc)
            case (.failure(let e), _, _, _), (_, .failure(let e), _, _), (_, _, .failure(let e), _), (_, _, _, .failure(let e)):
                return .failure(e)
            }
        } else if let p = record[.price] {
            switch Self.price(p, .price) {
            case .success(let price): (open, high, low, close) = (price, price, price, price)
            case .failure(let e): return .failure(e)
            }
        } else {
            let absent = [TickField.open, .high, .low, .close].filter { record[$0] == nil }.map(\.description)
            if absent.count == 4 { return .failure(Reject(.missingField, "price (or open/high/low/close) is missing")) }
            return .failure(Reject(.missingField, "no price, and \(absent.joined(separator: "/")) of the bar is missing"))
        }

        guard let volume = DecimalText.parseInteger(volumeText) else {
            return .failure(Reject(.badNumber, "volume '\(Self.text(volumeText))' is not a whole number"))
        }
        guard volume >= 0 else { return .failure(Reject(.negativeVolume, "volume \(volume) is negative")) }

        var sequence: Int64?
        if let sequenceText = record[.sequence] {
            guard let value = DecimalText.parseInteger(sequenceText) else {
                return .failure(Reject(.badNumber, "seq '\(Self.text(sequenceText))' is not a whole number"))
            }
            sequence = value
        }

        if low.compare(Price.min(open, close)) > 0 {
            return .failure(Reject(.lowAboveOpenClose, "low \(low) is above min(open \(open), close \(close))"))
        }
        if high.compare(Price.max(open, close)) < 0 {
            return .failure(Reject(.highBelowOpenClose, "high \(high) is below max(open \(open), close \(close))"))
        }
        if let reject = beyondSkew(time) { return .failure(reject) }
        return .success(Tick(time: time, symbol: symbol, open: open, high: high, low: low, close: close,
                             volume: volume, feedSequence: sequence, action: action))
    }

    /// A cancel: the time it was sent, the symbol and the trade id; prices and size, if sent, are
    /// not read (the stored trade has them).
    private func cancel(at time: Timestamp, of symbol: Symbol, tradeID text: UnsafeBufferPointer<UInt8>) -> Result<Tick, Reject> {
        guard let tradeID = DecimalText.parseInteger(text) else {
            return .failure(Reject(.badNumber, "seq '\(Self.text(text))' is not a whole number"))
        }
        if let reject = beyondSkew(time) { return .failure(reject) }
        let zero = Price(units: 0, scale: 0)
        return .success(Tick(time: time, symbol: symbol, open: zero, high: zero, low: zero, close: zero, volume: 0,
                             feedSequence: tradeID, action: .cancel))
    }

    /// A status record: the instrument (or the market) is its status from its time on.
    private mutating func status(_ record: RawRecord) -> Result<Tick, Reject> {
        guard let timeText = record[.time] else { return .failure(Reject(.missingField, "time is missing")) }
        guard let statusText = record[.status] else { return .failure(Reject(.missingField, "a status record's status is missing")) }
        let time: Timestamp
        switch instant(timeText) {
        case .success(let parsed): time = parsed
        case .failure(let reject): return .failure(reject)
        }
        let word = Self.text(statusText).trimmingBlanks()
        guard let status = TradingStatus(named: word) else {
            return .failure(Reject(.unknownStatus, "status '\(word.debugEscaped)' is not halted, suspended, resumed, pre_open, open or closed"))
        }
        let symbolWord = record[.symbol].map { Self.text($0).trimmingBlanks().uppercased() } ?? ""
        let symbol: Symbol
        if symbolWord.isEmpty || symbolWord == "*" || symbolWord == "MARKET" {
            guard status.isMarketStatus else {
                return .failure(Reject(.unknownStatus, "the market is pre_open, open, closed, halted or resumed, not \(status)"))
            }
            symbol = TradingStatus.market
        } else {
            switch symbolFor(record[.symbol]!) {
            case .success(let s): symbol = s
            case .failure(.missing): return .failure(Reject(.missingField, "symbol is empty"))
            case .failure(.reject(let reject)): return .failure(reject)
            }
            guard status.isInstrumentStatus else {
                return .failure(Reject(.unknownStatus, "an instrument is halted, suspended or resumed; \(status) is a market phase"))
            }
        }
        if let reject = beyondSkew(time) { return .failure(reject) }
        return .success(.status(status, of: symbol, at: time))
    }

    /// A record's time: RFC 3339 or an epoch number, a wall-clock time in the exchange's zone.
    private mutating func instant(_ text: UnsafeBufferPointer<UInt8>) -> Result<Timestamp, Reject> {
        switch TimeText.parse(text) {
        case .instant(let instant): .success(instant)
        case .naive(let wall): .success(zone.instant(ofWallClock: wall))
        case .invalid: .failure(Reject(.badTime, "time '\(Self.text(text))' is not RFC 3339 or an epoch number"))
        }
    }

    private func beyondSkew(_ time: Timestamp) -> Reject? {
        guard Int128(time.nanosecondsSinceEpoch) - Int128(now.nanosecondsSinceEpoch) > Int128(maxFutureSkew) else { return nil }
        return Reject(.futureTime, "time \(time) is more than \(maxFutureSkew / 1_000_000_000)s ahead of now (\(now))")
    }

    private mutating func symbolFor(_ raw: UnsafeBufferPointer<UInt8>) -> Result<Symbol, SymbolRules.RejectOrMissing> {
        guard let key = PackedName(raw) else { return symbols.normalise(Self.text(raw)) }
        if let listing = symbols.listing, listing.version != cachedListingVersion {
            symbolCache.removeAll(keepingCapacity: true)
            cachedListingVersion = listing.version
        }
        if let hit = symbolCache[key] { return hit }
        let result = symbols.normalise(Self.text(raw))
        if symbolCache.count >= Self.symbolCacheLimit { symbolCache.removeAll(keepingCapacity: true) }
        symbolCache[key] = result
        return result
    }

    static func price(_ text: UnsafeBufferPointer<UInt8>, _ field: TickField) -> Result<Price, Reject> {
        switch DecimalText.parse(text) {
        case .value(let price):
            if price.isNegative { return .failure(Reject(.negativePrice, "\(field) \(price) is negative")) }
            return .success(price)
        case .nonFinite:
            return .failure(Reject(.nonFinitePrice, "\(field) '\(Self.text(text))' is not finite"))
        case .invalid:
            return .failure(Reject(.badNumber, "\(field) '\(Self.text(text))' is not a decimal number"))
        }
    }

    static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let clipped = bytes.count > 64 ? UnsafeBufferPointer(rebasing: bytes[..<64]) : bytes
        return String(decoding: clipped, as: UTF8.self) + (bytes.count > 64 ? "…" : "")
    }
}
