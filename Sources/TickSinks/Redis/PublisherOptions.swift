import Hiredis
import TickModel

/// How the Redis publisher connects and how much it holds while Redis is away.
public struct PublisherOptions: Sendable {
    public var url: RedisURL
    /// Channel prefix: ticks go to `<prefix><SYMBOL>`, the newest per symbol to `<prefix>last:<SYMBOL>`.
    public var prefix: String
    /// Messages held while Redis is unreachable; beyond this the oldest are skipped (counted and
    /// logged with the seq ranges to re-read from the database).
    public var maxBacklog: Int
    /// Connect, read and write timeout.
    public var timeout: Duration
    /// Reconnect backoff: from `initialBackoff`, doubling, capped at `maxBackoff`.
    public var reconnect: Backoff
    /// Messages per pipeline round trip at most.
    public var pipelineLimit: Int
    /// How a `rediss://` server is verified (CA file, client certificate).
    public var tls = RedisTLS()
    /// Each message is also appended to the stream `<prefix>stream:<SYMBOL>` under the ID
    /// `<seq>-0`, trimmed to about this many entries per symbol; 0: no streams.
    public var streamMaxLength = 100_000
    /// Live candles go to `<candlePrefix><interval>:<SYMBOL>` (`1m`, `1d`) with a per-channel
    /// seq in `<candlePrefix><interval>:seq:<SYMBOL>` and the newest bucket's in
    /// `<candlePrefix><interval>:last:<SYMBOL>`; nil: none.
    public var candlePrefix: String? = "candles:"

    public init(url: RedisURL, prefix: String = "ticks:", maxBacklog: Int = 100_000, timeout: Duration = .seconds(2),
                initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(5), pipelineLimit: Int = 2000) {
        self.url = url
        self.prefix = prefix
        self.maxBacklog = maxBacklog
        self.timeout = timeout
        reconnect = Backoff(initial: initialBackoff, cap: maxBackoff)
        self.pipelineLimit = pipelineLimit
    }
}

/// What the publisher has done so far.
public struct PublisherStats: Sendable, Equatable {
    /// PUBLISH commands Redis acknowledged.
    public var published = 0
    /// Messages dropped unpublished (backlog over its bound, or still held at shutdown).
    public var skipped = 0
    /// Failed attempts to reach Redis (connect, write or read errors).
    public var errors = 0
    /// Successful connections after the first.
    public var reconnects = 0
    /// Messages waiting now.
    public var backlog = 0
    public var connected = false

    public init() {}
}
