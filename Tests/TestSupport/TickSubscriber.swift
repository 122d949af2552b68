import Foundation
import Hiredis

/// A Redis subscriber like the Stock Soko backend: PSUBSCRIBE to a pattern on a thread of its
/// own, collecting every message — or handing each to an observer as it arrives (the
/// benchmark's latency count) — until a message arrives on `<prefix>__end__`.
public final class TickSubscriber: @unchecked Sendable {
    /// One received tick message, fields as the raw JSON text (decimals exactly as sent).
    public struct Message: Sendable, Equatable {
        public let channel: String
        public let payload: String
        public let fields: [String: String]

        public var symbol: String { fields["symbol"] ?? "" }
        public var seq: Int64 { Int64(fields["seq"] ?? "") ?? -1 }
    }

    private let lock = NSLock()
    private var received: [Message] = []
    private var receivedAt: [ContinuousClock.Instant] = []
    private let done = DispatchSemaphore(value: 0)
    public let prefix: String
    private let url: RedisURL

    /// Subscribes to `<prefix>*` and returns once Redis confirmed the subscription. With
    /// `observe`, each message's payload goes to it on the reading thread, and nothing is kept.
    public init(url: String, prefix: String, observe: (@Sendable (_ payload: [UInt8]) -> Void)? = nil) throws {
        self.prefix = prefix
        self.url = try RedisURL(parsing: url)
        // Handed over to the reading thread and used only there from now on. A read waits up to
        // 10 minutes: on a busy machine the first message can come more than a minute after the
        // subscription (a test's setup), and a timed-out read would end the subscriber silently.
        nonisolated(unsafe) let connection = try RedisConnection(url: self.url, timeout: .seconds(600))
        _ = try connection.command(["PSUBSCRIBE", "\(prefix)*"])
        Thread { [self] in
            while true {
                guard case .array(let parts) = (try? connection.readReply()) ?? .null, parts.count == 4,
                      let channel = parts[2].text, case .string(let bytes) = parts[3] else { break }
                if channel == "\(prefix)__end__" { break }
                if let observe {
                    observe(bytes)
                    continue
                }
                let payload = String(decoding: bytes, as: UTF8.self)
                let message = Message(channel: channel, payload: payload, fields: Self.fields(of: payload))
                let now = ContinuousClock.now
                lock.withLock {
                    received.append(message)
                    receivedAt.append(now)
                }
            }
            done.signal()
        }.start()
    }

    /// Publishes the end marker (after everything tickd published) and returns what arrived
    /// (nothing with an observer). `publishingEnd: false` when another subscriber's `finish`
    /// already sent the end marker.
    @discardableResult
    public func finish(publishingEnd: Bool = true, timeout: Duration = .seconds(60)) throws -> [Message] {
        if publishingEnd {
            let connection = try RedisConnection(url: url)
            _ = try connection.command(["PUBLISH", "\(prefix)__end__", "end"])
        }
        _ = done.wait(timeout: .now() + Double(timeout.components.seconds))
        return lock.withLock { received }
    }

    /// When each message arrived (same order as `finish()`'s messages).
    public var arrivals: [ContinuousClock.Instant] { lock.withLock { receivedAt } }

    /// The top-level fields of tickd's flat JSON message as raw text, numbers exactly as written
    /// (JSONSerialization would turn 23.10 into a double and lose the trailing zero).
    static func fields(of payload: String) -> [String: String] {
        var fields: [String: String] = [:]
        for key in ["symbol", "time", "open", "high", "low", "close", "volume", "seq", "action", "trade_id", "ref_seq", "status", "since", "reason", "source", "flags",
                    "interval", "bucket", "ticks", "turnover", "vwap"] {
            let pattern = "\"\(key)\":"
            guard let range = payload.range(of: pattern) else { continue }
            var rest = payload[range.upperBound...]
            if rest.hasPrefix("\"") {
                rest = rest.dropFirst()
                fields[key] = String(rest.prefix { $0 != "\"" })
            } else {
                fields[key] = String(rest.prefix { $0 != "," && $0 != "}" })
            }
        }
        return fields
    }
}
