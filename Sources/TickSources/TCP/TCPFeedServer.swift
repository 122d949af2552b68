import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TickModel
import TickPipeline

/// One TCP listener's settings (`sources.listen[]` or `--listen HOST:PORT`).
public struct ListenerOptions: Sendable {
    public var host: String
    public var port: Int
    public var format: FeedFormat
    /// Connections at once, in all.
    public var maxConnections: Int
    /// Connections at once from one peer address.
    public var maxConnectionsPerPeer: Int
    /// A connection that sends nothing this long is closed; nil never.
    public var idleTimeout: Duration?
    public var maxLineBytes: Int
    /// Only these peers may connect; nil lets any.
    public var allow: AddressAllowList?

    public init(host: String, port: Int, format: FeedFormat = .auto, maxConnections: Int = 256,
                maxConnectionsPerPeer: Int = 32, idleTimeout: Duration? = .seconds(300), maxLineBytes: Int = 65_536,
                allow: AddressAllowList? = nil) {
        self.host = host
        self.port = port
        self.format = format
        self.maxConnections = maxConnections
        self.maxConnectionsPerPeer = maxConnectionsPerPeer
        self.idleTimeout = idleTimeout
        self.maxLineBytes = maxLineBytes
        self.allow = allow
    }

    /// `tcp://host:port`, the listener's name in logs and offsets.
    public var name: String { "tcp://\(host):\(port)" }
}

/// A TCP server that feed publishers connect to (SwiftNIO). Each connection is read in a task
/// of its own; when the pipeline is full the task stops pulling, NIO stops reading the socket
/// and TCP flow control slows the publisher. Limits refuse or close connections, never tickd.
public final class TCPFeedServer: Sendable {
    public let options: ListenerOptions
    private let group: any EventLoopGroup
    private let wiring: SourceWiring
    private var logger: Logger { wiring.logger }
    private let limiter: ConnectionLimiter
    private let metrics: ListenerMetrics

    private struct State {
        var server: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var stopping = false
        var boundPort: Int?
    }
    private let state = Mutex(State())

    /// The accepted connection, or a refused one (already being closed).
    enum Admission: Sendable {
        case accepted(NIOAsyncChannel<ByteBuffer, Never>, peer: String)
        case refused
    }

    public init(options: ListenerOptions, group: any EventLoopGroup, wiring: SourceWiring) {
        self.options = options
        self.group = group
        self.wiring = wiring
        limiter = ConnectionLimiter(maxTotal: options.maxConnections, maxPerPeer: options.maxConnectionsPerPeer,
                                    allow: options.allow)
        metrics = ListenerMetrics(listener: options.name)
    }

    /// The port actually bound (differs from the configured one when that is 0).
    public var boundPort: Int? { state.withLock { $0.boundPort } }

    /// Binds, then accepts and reads connections until `shutdown()`; returns when every
    /// connection has finished.
    public func run() async throws {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .bind(host: options.host, port: options.port) { [self] channel in
                channel.eventLoop.makeCompletedFuture { () -> Admission in try self.admit(channel) }
            }
        let port = server.channel.localAddress?.port
        let stopNow = state.withLock { s -> Bool in
            s.server = server.channel
            s.boundPort = port
            return s.stopping
        }
        if stopNow { server.channel.close(promise: nil) }
        logger.notice("listening for feed publishers", metadata: ["listener": "\(options.name)", "port": "\(port ?? 0)",
                                                                   "format": "\(options.format.rawValue)"])
        try await withThrowingDiscardingTaskGroup { tasks in
            try await server.executeThenClose { inbound in
                for try await admission in inbound {
                    guard case .accepted(let connection, let peer) = admission else { continue }
                    tasks.addTask { await self.serve(connection, peer: peer) }
                }
            }
        }
        logger.notice("listener closed", metadata: ["listener": "\(options.name)"])
    }

    /// Stops accepting, closes every connection (what was already read still goes in), and lets
    /// `run()` return.
    public func shutdown() {
        let channels = state.withLock { s -> [any Channel] in
            s.stopping = true
            return (s.server.map { [$0] } ?? []) + Array(s.connections.values)
        }
        channels.forEach { $0.close(promise: nil) }
    }

    /// Runs on the event loop for each accepted socket.
    private func admit(_ channel: any Channel) throws -> Admission {
        let peer = channel.remoteAddress?.ipAddress ?? "unknown"
        if let refusal = limiter.admit(peer: peer) {
            metrics.refused(refusal)
            logger.warning("connection refused", metadata: ["listener": "\(options.name)", "peer": "\(peer)",
                                                            "reason": "\(refusal.rawValue)"])
            channel.close(promise: nil)
            return .refused
        }
        if let idle = options.idleTimeout {
            let name = options.name
            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: TimeAmount(idle)))
            try channel.pipeline.syncOperations.addHandler(IdleCloser { [self] in
                metrics.idleClosed.increment()
                logger.notice("connection idle, closed", metadata: ["listener": "\(name)", "peer": "\(peer)"])
            })
        }
        let connection = try NIOAsyncChannel<ByteBuffer, Never>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
        state.withLock { s in
            s.connections[ObjectIdentifier(channel)] = channel
        }
        metrics.accepted.increment()
        metrics.open.record(limiter.open)
        return .accepted(connection, peer: peer)
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, Never>, peer: String) async {
        let id = ObjectIdentifier(connection.channel)
        let remote = connection.channel.remoteAddress.map { "\($0.ipAddress ?? peer):\($0.port ?? 0)" } ?? peer
        defer {
            state.withLock { _ = $0.connections.removeValue(forKey: id) }
            limiter.release(peer: peer)
        }
        if state.withLock({ $0.stopping }) { connection.channel.close(promise: nil) }
        logger.info("publisher connected", metadata: ["listener": "\(options.name)", "peer": "\(remote)"])
        var reader = FeedConnectionReader(decoder: wiring.makeDecoder(options.name, options.format, options.maxLineBytes),
                                          wiring: wiring)
        var outcome = "closed by peer"
        do {
            try await connection.executeThenClose { inbound in
                let peerClosed = try await reader.read(inbound)
                if peerClosed && !state.withLock({ $0.stopping }) {
                    try await reader.finish()
                } else {
                    outcome = "closed by tickd"
                }
            }
        } catch {
            outcome = "error: \(error)"
        }
        let counts = reader.decoder.counts
        reader.close()
        metrics.open.record(limiter.open - 1)
        logger.info("publisher disconnected", metadata: [
            "listener": "\(options.name)", "peer": "\(remote)", "outcome": "\(outcome)",
            "records": "\(counts.read)", "accepted": "\(counts.accepted)", "rejected": "\(counts.rejected)"])
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        self = .nanoseconds(duration.nanoseconds)
    }
}

/// The metrics of one listener: `tickd_connections_accepted_total`, `…_refused_total{reason}`,
/// `…_idle_closed_total`, `tickd_connections_open`, all labelled with the listener.
struct ListenerMetrics: Sendable {
    let listener: String
    let accepted: Counter
    let idleClosed: Counter
    let open: Gauge
    private let refusedCounters: [ConnectionLimiter.Refusal: Counter]

    init(listener: String) {
        self.listener = listener
        accepted = Counter(label: "tickd_connections_accepted_total", dimensions: [("listener", listener)])
        idleClosed = Counter(label: "tickd_connections_idle_closed_total", dimensions: [("listener", listener)])
        open = Gauge(label: "tickd_connections_open", dimensions: [("listener", listener)])
        refusedCounters = Dictionary(uniqueKeysWithValues: ConnectionLimiter.Refusal.allCases.map {
            ($0, Counter(label: "tickd_connections_refused_total", dimensions: [("listener", listener), ("reason", $0.rawValue)]))
        })
    }

    func refused(_ reason: ConnectionLimiter.Refusal) { refusedCounters[reason]?.increment() }
}
