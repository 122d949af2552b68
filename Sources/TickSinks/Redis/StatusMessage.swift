import Hiredis
import TickCodecs
import TickModel

/// A trading-status message: each change on `<status prefix><SYMBOL>` (the market:
/// `<status prefix>market`), and the current status under the key of the same name:
/// `{"symbol":"SCOM","status":"halted","since":"2026-03-02T09:41:00.000Z","reason":"announcement","source":"operator","recorded_at":"…"}`.
/// The market's symbol is `*`; `reason` is null when none was given.
public enum StatusMessage {
    /// The channel (and key) of `symbol`'s status.
    public static func channel(prefix: String, symbol: Symbol) -> String {
        prefix + (symbol == TradingStatus.market ? "market" : symbol.rawValue)
    }

    public static func encode(_ entry: TradingStatusStore.Entry) -> String {
        var out: [UInt8] = []
        JSONText.appendLiteral(#"{"symbol":"#, to: &out)
        JSONText.appendString(entry.symbol.rawValue, to: &out)
        JSONText.appendLiteral(#","status":"#, to: &out)
        JSONText.appendString(entry.status.description, to: &out)
        JSONText.appendLiteral(#","since":"#, to: &out)
        JSONText.appendString(entry.since.rfc3339(fractionDigits: 3), to: &out)
        JSONText.appendLiteral(#","reason":"#, to: &out)
        if let reason = entry.reason { JSONText.appendString(reason, to: &out) } else { JSONText.appendLiteral("null", to: &out) }
        JSONText.appendLiteral(#","source":"#, to: &out)
        JSONText.appendString(entry.source, to: &out)
        JSONText.appendLiteral(#","recorded_at":"#, to: &out)
        JSONText.appendString(Timestamp(nanosecondsSinceEpoch: entry.recordedMicros * 1000).rfc3339(fractionDigits: 6), to: &out)
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

/// Sends status messages: `PUBLISH` each change on its channel and `SET` each current status
/// under its key, in one pipeline. Blocking (hiredis): call it off Swift's cooperative pool.
public final class StatusPublisher {
    public let options: PublisherOptions
    public let prefix: String
    private var connection: RedisConnection?

    public init(options: PublisherOptions, prefix: String) {
        self.options = options
        self.prefix = prefix
    }

    /// Publishes `changes` in order and sets the keys of `current`; throws (and drops the
    /// connection, for a new one next time) when Redis cannot be reached or refuses a command.
    public func publish(changes: [TradingStatusStore.Entry], current: [TradingStatusStore.Entry]) throws(RedisError) {
        guard !changes.isEmpty || !current.isEmpty else { return }
        do throws(RedisError) {
            let redis: RedisConnection
            if let connection { redis = connection } else {
                redis = try RedisConnection(url: options.url, timeout: options.timeout, tls: options.tls)
                connection = redis
            }
            for entry in current { try redis.append(["SET", StatusMessage.channel(prefix: prefix, symbol: entry.symbol), StatusMessage.encode(entry)]) }
            for entry in changes { try redis.append(["PUBLISH", StatusMessage.channel(prefix: prefix, symbol: entry.symbol), StatusMessage.encode(entry)]) }
            for _ in 0..<(changes.count + current.count) {
                if case .error(let message) = try redis.readReply() { throw RedisError(kind: .reply, message: message) }
            }
        } catch {
            connection = nil
            throw error
        }
    }
}
