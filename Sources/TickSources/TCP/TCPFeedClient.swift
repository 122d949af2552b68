import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TickModel
import TickNormalisation

/// An upstream feed tickd connects to (`sources.connect[]` or `--connect HOST:PORT`).
public struct UpstreamOptions: Sendable {
    public var host: String
    public var port: Int
    public var format: FeedFormat
    /// A line sent right after connecting (e.g. a subscription request), without the newline.
    public var subscribe: String?
    public var maxLineBytes: Int
    public var connectTimeout: Duration
    /// Reconnect backoff: from `initialBackoff`, doubling to `maxBackoff`, with jitter.
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(host: String, port: Int, format: FeedFormat = .auto, subscribe: String? = nil, maxLineBytes: Int = 65_536,
                connectTimeout: Duration = .seconds(5), initialBackoff: Duration = .milliseconds(200),
                maxBackoff: Duration = .seconds(30)) {
        self.host = host
        self.port = port
        self.format = format
        self.subscribe = subscribe
        self.maxLineBytes = maxLineBytes
        self.connectTimeout = connectTimeout
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    public var name: String { "tcp-upstream://\(host):\(port)" }
}

/// Where an upstream connection stands, for logs, `/readyz` and metrics.
public enum UpstreamState: Sendable, Equatable {
    case connecting
    case connected
    /// Waiting before the next attempt.
    case backingOff(attempt: Int, delay: Duration)
    case stopped
}

/// A client of an upstream feed: connects, sends the subscribe line, reads lines into the
/// pipeline, and when the connection fails or ends reconnects with capped exponential backoff
/// and jitter — until `shutdown()`.
public final class TCPFeedClient: Sendable {
    public let options: UpstreamOptions
    private let group: any EventLoopGroup
    private let wiring: SourceWiring
    private var logger: Logger { wiring.logger }

    private struct Status {
        var state = UpstreamState.connecting
        var connections = 0
        var channel: (any Channel)?
        var stopping = false
    }
    private let status = Mutex(Status())
    private let connectedGauge: Gauge
    private let reconnects: Counter

    public init(options: UpstreamOptions, group: any EventLoopGroup, wiring: SourceWiring) {
        self.options = options
        self.group = group
        self.wiring = wiring
        connectedGauge = Gauge(label: "tickd_upstream_connected", dimensions: [("upstream", options.name)])
        reconnects = Counter(label: "tickd_upstream_reconnects_total", dimensions: [("upstream", options.name)])
    }

    public var state: UpstreamState { status.withLock { $0.state } }
    /// Successful connections so far.
    public var connections: Int { status.withLock { $0.connections } }

    public func run() async {
        var backoff = Backoff(initial: options.initialBackoff, cap: options.maxBackoff)
        while !status.withLock({ $0.stopping }) {
            setState(.connecting)
            do {
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(TimeAmount(options.connectTimeout))
                    .channelOption(.socketOption(.so_keepalive), value: 1)
                    .connect(host: options.host, port: options.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                                wrappingChannelSynchronously: channel,
                                configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
                        }
                    }
                let stopNow = status.withLock { s -> Bool in
                    s.channel = channel.channel
                    s.connections += 1
                    s.state = .connected
                    return s.stopping
                }
                if stopNow { channel.channel.close(promise: nil) }
                backoff.reset()
                connectedGauge.record(1)
                if connections > 1 { reconnects.increment() }
                logger.notice("connected to upstream feed", metadata: ["upstream": "\(options.name)"])
                var reader = FeedConnectionReader(decoder: wiring.makeDecoder(options.name, options.format, options.maxLineBytes),
                                                  wiring: wiring)
                try await channel.executeThenClose { inbound, outbound in
                    if let subscribe = options.subscribe {
                        try await outbound.write(ByteBuffer(string: subscribe + "\n"))
                    }
                    if try await reader.read(inbound), !status.withLock({ $0.stopping }) { try await reader.finish() }
                }
                reader.close()
                connectedGauge.record(0)
                status.withLock { $0.channel = nil }
                logger.warning("upstream feed closed the connection", metadata: ["upstream": "\(options.name)"])
            } catch {
                status.withLock { $0.channel = nil }
                if !status.withLock({ $0.stopping }) {
                    logger.warning("upstream feed connection failed", metadata: ["upstream": "\(options.name)", "error": "\(error)"])
                }
            }
            if status.withLock({ $0.stopping }) { break }
            let delay = backoff.next(jitter: Double.random(in: 0..<1))
            setState(.backingOff(attempt: backoff.failures, delay: delay))
            logger.info("reconnecting to upstream feed", metadata: [
                "upstream": "\(options.name)", "attempt": "\(backoff.failures)", "in_ms": "\(delay.milliseconds)"])
            let wakeAt = ContinuousClock.now + delay
            while ContinuousClock.now < wakeAt && !status.withLock({ $0.stopping }) {
                try? await Task.sleep(for: min(.milliseconds(50), wakeAt - .now))
            }
        }
        setState(.stopped)
    }

    /// Stops reconnecting and closes the connection (what was already read still goes in).
    public func shutdown() {
        let channel = status.withLock { s -> (any Channel)? in
            s.stopping = true
            return s.channel
        }
        channel?.close(promise: nil)
    }

    private func setState(_ state: UpstreamState) { status.withLock { $0.state = state } }
}
