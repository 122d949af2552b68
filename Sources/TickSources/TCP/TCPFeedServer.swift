import CoreMetrics
import Dispatch
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TickModel
import TickNormalisation

/// One TCP listener's settings (`sources.listen[]` or `--listen HOST:PORT`).
public struct ListenerOptions: Sendable {
    public var host: String
    public var port: Int
    public var format: FeedFormat
    /// Connections at once, in all.
    public var maxConnections: Int
    /// Connections at once from one peer address.
    public var maxConnectionsPerPeer: Int
    /// A connection that completes no line this long is closed (bytes that never end a line,
    /// as a slow-loris sends, do not count); nil never.
    public var idleTimeout: Duration?
    /// When the listener is full, a connection that completed no line this long gives its place
    /// to a newcomer (one that never completed a line always can); nil: only those.
    public var evictAfter: Duration?
    public var maxLineBytes: Int
    /// Only these peers may connect; nil lets any.
    public var allow: AddressAllowList?
    /// TLS on this port (only TLS), and mutual TLS with a client CA; nil: plain text.
    public var tls: ListenerTLS?
    /// What each client-certificate identity may send (`publishers:`), with mutual TLS; nil: all.
    public var publishers: PublisherEntitlements?

    public init(host: String, port: Int, format: FeedFormat = .auto, maxConnections: Int = 256,
                maxConnectionsPerPeer: Int = 32, idleTimeout: Duration? = .seconds(300), evictAfter: Duration? = .seconds(2),
                maxLineBytes: Int = 65_536, allow: AddressAllowList? = nil) {
        self.host = host
        self.port = port
        self.format = format
        self.maxConnections = maxConnections
        self.maxConnectionsPerPeer = maxConnectionsPerPeer
        self.idleTimeout = idleTimeout
        self.evictAfter = evictAfter
        self.maxLineBytes = maxLineBytes
        self.allow = allow
    }

    /// `tcp://host:port` (`tls://` with TLS), the listener's name in logs and offsets.
    public var name: String { "\(tls == nil ? "tcp" : "tls")://\(host):\(port)" }
}

/// A TCP server that feed publishers connect to (SwiftNIO). Each connection is read in a task
/// of its own; when the pipeline is full the task stops pulling, NIO stops reading the socket
/// and TCP flow control slows the publisher. Limits refuse or close connections, never tickd:
/// see `ConnectionLimiter` for who gets a place when the listener is full.
public final class TCPFeedServer: Sendable {
    public let options: ListenerOptions
    private let group: any EventLoopGroup
    private let wiring: SourceWiring
    private var logger: Logger { wiring.logger }
    private let limiter: ConnectionLimiter
    private let metrics: ListenerMetrics
    private let throttled = ThrottledLog()
    /// The TLS context new connections get (re-read on SIGHUP); nil: plain text.
    private let tls: ListenerTLSContext?

    private struct State {
        var server: (any Channel)?
        /// Open connections by limiter id, and why tickd closed the ones it closed.
        var connections: [Int: any Channel] = [:]
        var closedByTickd: [Int: String] = [:]
        var stopping = false
        var boundPort: Int?
    }
    private let state = Mutex(State())

    /// The accepted connection, or a refused one (already being closed).
    enum Admission: Sendable {
        /// `handshake`: on a TLS listener, completes with the publisher's identity once the
        /// handshake is done (nil without a client certificate).
        case accepted(NIOAsyncChannel<ByteBuffer, Never>, peer: String, id: Int, handshake: EventLoopFuture<String?>?)
        case refused
    }

    /// Throws when the TLS certificate, key or client CA cannot be used.
    public init(options: ListenerOptions, group: any EventLoopGroup, wiring: SourceWiring) throws {
        self.options = options
        tls = try options.tls.map(ListenerTLSContext.init)
        self.group = group
        self.wiring = wiring
        limiter = ConnectionLimiter(maxTotal: options.maxConnections, maxPerPeer: options.maxConnectionsPerPeer,
                                    allow: options.allow, evictAfter: options.evictAfter)
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
        let sweeper = Task { await closeSilentConnections() }
        let hangup = tls == nil ? nil : reloadOnHangup()
        defer {
            sweeper.cancel()
            hangup?.cancel()
        }
        try await withThrowingDiscardingTaskGroup { tasks in
            try await server.executeThenClose { inbound in
                for try await admission in inbound {
                    guard case .accepted(let connection, let peer, let id, let handshake) = admission else { continue }
                    tasks.addTask { await self.serve(connection, peer: peer, id: id, handshake: handshake) }
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

    /// Re-reads the TLS certificate, key and client CA; new connections get them, open ones keep
    /// theirs. A file that cannot be used leaves the context in use, with an error logged.
    public func reloadTLS() {
        guard let tls else { return }
        do {
            try tls.reload()
            logger.notice("TLS certificate reloaded", metadata: ["listener": "\(options.name)", "cert_file": "\(tls.settings.certFile)"])
        } catch {
            logger.error("TLS certificate not reloaded; the previous one stays in use",
                         metadata: ["listener": "\(options.name)", "error": "\(error)"])
        }
    }

    /// SIGHUP (systemd's reload) re-reads the TLS files.
    private func reloadOnHangup() -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [self] in reloadTLS() }
        source.resume()
        return source
    }

    /// Runs on the event loop for each accepted socket.
    private func admit(_ channel: any Channel) throws -> Admission {
        let peer = channel.remoteAddress?.ipAddress ?? "unknown"
        let id: Int
        switch limiter.admit(peer: peer) {
        case .refused(let refusal):
            metrics.refused(refusal)
            throttled.log(logger, .warning, "connection refused", kind: refusal.rawValue,
                          metadata: ["listener": "\(options.name)", "peer": "\(peer)", "reason": "\(refusal.rawValue)"])
            channel.close(promise: nil)
            return .refused
        case .admitted(let admitted):
            id = admitted
        case .admittedEvicting(let admitted, let evicted):
            id = admitted
            metrics.evicted.increment()
            close(evicted, because: "evicted: the listener was full and it had sent no line for longest", kind: "evicted")
        }
        var handshake: EventLoopFuture<String?>?
        if let tls {
            let watch = TLSHandshakeWatch(eventLoop: channel.eventLoop, timeout: TimeAmount(tls.settings.handshakeTimeout))
            try channel.pipeline.syncOperations.addHandlers([NIOSSLServerHandler(context: tls.context), watch])
            handshake = watch.done.futureResult
        }
        let connection = try NIOAsyncChannel<ByteBuffer, Never>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
        state.withLock { s in
            s.connections[id] = channel
        }
        // Another event loop may have evicted it between admission and here.
        if !limiter.holdsPlace(id: id) { close(id, because: "evicted: the listener was full and it had sent no line for longest", kind: "evicted") }
        metrics.accepted.increment()
        metrics.open.record(limiter.open)
        return .accepted(connection, peer: peer, id: id, handshake: handshake)
    }

    /// Closes connection `id` (its limiter place is already given back or about to be).
    private func close(_ id: Int, because reason: String, kind: String) {
        let channel = state.withLock { s -> (any Channel)? in
            guard let channel = s.connections[id] else { return nil }
            s.closedByTickd[id] = reason
            return channel
        }
        guard let channel else { return }
        let peer = channel.remoteAddress.map { "\($0.ipAddress ?? "unknown"):\($0.port ?? 0)" } ?? "unknown"
        throttled.log(logger, .notice, "connection closed by tickd", kind: kind,
                      metadata: ["listener": "\(options.name)", "peer": "\(peer)", "reason": "\(reason)"])
        channel.close(promise: nil)
    }

    /// The idle timeout: every second (or a quarter of the timeout), closes the connections that
    /// completed no line for `idleTimeout`.
    private func closeSilentConnections() async {
        guard let timeout = options.idleTimeout else { return }
        let period = min(Duration.seconds(1), timeout / 4)
        while (try? await Task.sleep(for: period)) != nil {
            for id in limiter.silent(for: timeout) {
                limiter.release(id: id)
                metrics.idleClosed.increment()
                close(id, because: "idle: no complete line for \(timeout)", kind: "idle")
            }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, Never>, peer: String, id: Int, handshake: EventLoopFuture<String?>?) async {
        let remote = connection.channel.remoteAddress.map { "\($0.ipAddress ?? peer):\($0.port ?? 0)" } ?? peer
        defer {
            state.withLock { s in
                s.connections.removeValue(forKey: id)
                s.closedByTickd.removeValue(forKey: id)
            }
            limiter.release(id: id)
        }
        if state.withLock({ $0.stopping }) { connection.channel.close(promise: nil) }
        var identity: String?
        if let handshake {
            do {
                identity = try await handshake.get()
            } catch {
                // Plain text on a TLS port, no or an untrusted client certificate, an expired
                // one, a handshake that never completes: nothing is read from the connection.
                metrics.handshakeFailed.increment()
                throttled.log(logger, .warning, "TLS handshake failed", kind: "tls",
                              metadata: ["listener": "\(options.name)", "peer": "\(remote)", "error": "\(error)"])
                connection.channel.close(promise: nil)
                metrics.open.record(limiter.open - 1)
                return
            }
        }
        var connected: Logger.Metadata = ["listener": "\(options.name)", "peer": "\(remote)"]
        if let identity { connected["publisher"] = "\(identity)" }
        logger.info("publisher connected", metadata: connected)
        var decoder = wiring.makeDecoder(options.name, options.format, options.maxLineBytes)
        if let publishers = options.publishers, options.tls?.clientCAFile != nil {
            decoder.entitlement = publishers.entitlement(of: identity ?? "")
        }
        var reader = FeedConnectionReader(decoder: decoder, wiring: wiring) { [limiter] in limiter.completedLines(id: id) }
        var outcome = "closed by peer"
        do {
            try await connection.executeThenClose { inbound in
                let ended = try await reader.read(inbound)
                // Closed by tickd (idle, evicted, shutting down): a partial last line is not a record.
                let closedBy = state.withLock { s in s.closedByTickd[id] ?? (s.stopping ? "shutting down" : nil) }
                if ended && closedBy == nil {
                    try await reader.finish()
                } else {
                    outcome = "closed by tickd" + (closedBy.map { " (\($0))" } ?? "")
                }
            }
        } catch {
            outcome = "error: \(error)"
        }
        let counts = reader.decoder.counts
        reader.close()
        metrics.open.record(limiter.open - 1)
        var disconnected: Logger.Metadata = [
            "listener": "\(options.name)", "peer": "\(remote)", "outcome": "\(outcome)",
            "records": "\(counts.read)", "accepted": "\(counts.accepted)", "rejected": "\(counts.rejected)"]
        if let identity { disconnected["publisher"] = "\(identity)" }
        if let refused = counts.rejectedByReason[.notEntitled], refused > 0 {
            disconnected["not_entitled"] = "\(refused)"
            Counter(label: "tickd_not_entitled_total", dimensions: [("listener", options.name), ("publisher", identity ?? "")])
                .increment(by: Int64(refused))
        }
        logger.info("publisher disconnected", metadata: disconnected)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        self = .nanoseconds(duration.nanoseconds)
    }
}

/// The metrics of one listener: `tickd_connections_accepted_total`, `…_refused_total{reason}`,
/// `…_idle_closed_total`, `…_evicted_total`, `tickd_connections_open`,
/// `tickd_tls_handshake_failures_total`, all labelled with the listener.
struct ListenerMetrics: Sendable {
    let listener: String
    let accepted: Counter
    let idleClosed: Counter
    let evicted: Counter
    let handshakeFailed: Counter
    let open: Gauge
    private let refusedCounters: [ConnectionLimiter.Refusal: Counter]

    init(listener: String) {
        self.listener = listener
        accepted = Counter(label: "tickd_connections_accepted_total", dimensions: [("listener", listener)])
        idleClosed = Counter(label: "tickd_connections_idle_closed_total", dimensions: [("listener", listener)])
        evicted = Counter(label: "tickd_connections_evicted_total", dimensions: [("listener", listener)])
        handshakeFailed = Counter(label: "tickd_tls_handshake_failures_total", dimensions: [("listener", listener)])
        open = Gauge(label: "tickd_connections_open", dimensions: [("listener", listener)])
        refusedCounters = Dictionary(uniqueKeysWithValues: ConnectionLimiter.Refusal.allCases.map {
            ($0, Counter(label: "tickd_connections_refused_total", dimensions: [("listener", listener), ("reason", $0.rawValue)]))
        })
    }

    func refused(_ reason: ConnectionLimiter.Refusal) { refusedCounters[reason]?.increment() }
}
