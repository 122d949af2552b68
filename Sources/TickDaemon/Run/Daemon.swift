import Foundation
import Logging
import NIOCore
import Prometheus
import NIOPosix
import ServiceLifecycle
import TickEngine
import TickJournal
import TickModel
import TickNormalisation
import TickSinks
import TickSources

/// `tickd run`: assembles the services from the configuration and runs them until SIGTERM or
/// SIGINT. The ingest service comes first in the group, the sources after it; on a signal the
/// group shuts them down in reverse — sources stop accepting and reading first, then ingest
/// commits and publishes what was read — within `shutdown.drain_timeout_ms`.
public struct Daemon {
    public let config: TickdConfig
    public var logger = Logger(label: "tickd")
    /// Extra services (tests).
    public var extraServices: [any Service] = []
    /// Where metrics are collected, for the HTTP endpoint (the caller bootstraps swift-metrics with it).
    public var metricsRegistry: PrometheusCollectorRegistry?
    /// The environment (for NOTIFY_SOCKET / WATCHDOG_USEC).
    public var environment: [String: String] = ProcessInfo.processInfo.environment

    public init(config: TickdConfig) { self.config = config }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }

    public func run() async throws {
        guard !(config.listeners.isEmpty && config.upstreams.isEmpty && config.files.isEmpty && config.kafka.isEmpty) else {
            throw ConfigError(key: "sources", "nothing to read: configure sources.listen, sources.connect, sources.files or sources.kafka, or pass --listen/--connect/--kafka-brokers")
        }
        let url = try config.requireDatabaseURL(for: "tickd run")
        if let address = config.metricsAddress {
            let (host, _) = try ConfigLoader.hostPort(address, key: "metrics.address", allowZero: true)
            if !Self.isLoopback(host) && !config.metricsAllowPublic {
                throw ConfigError(key: "metrics.address", "'\(address)' is not a loopback address; set metrics.allow_public: true to serve metrics on it")
            }
        }
        let io = BlockingIO.start()
        do {
            try await runServices(url: url, io: io)
        } catch {
            await io.shutdown()
            throw DatabaseCommands.explainingPermission(error, command: .run, config: config)
        }
        await io.shutdown()
    }

    private func runServices(url: String, io: BlockingIO) async throws {
        let config = self.config
        let logger = self.logger
        // The Redis publisher; the writer lanes connected (retrying transient failures), the
        // instrument list read, the candle refresher started (TimescaleDB).
        let engine = try await EngineAssembly.open(config: config, url: url, io: io, logger: logger)
        defer { engine.stop() }
        let (deadLetters, publisher, queue) = (engine.deadLetters, engine.publisher, engine.queue)
        let first = engine.first
        let known = engine.database.known
        // The journal first: records of another database must stop tickd before it writes anything.
        // Opening reads and repairs segments, claiming writes a file: on an I/O thread.
        let journalOptions = config.journalOptions
        let journal = config.journalEnabled ? try await io.run { try Journal(options: journalOptions, logger: Logger(label: "tickd.journal")) } : nil
        if let journal {
            let database = try await first.perform { try $0.databaseIdentity() }
            if try await io.run({ try journal.claim(for: database) }) == .bind {
                logger.notice("journal: bound to this database", metadata: ["directory": "\(journal.options.directory)", "database": "\(database)"])
            }
        }
        // New listings are picked up while tickd runs (ListingReloadService).
        let listing = known.map(Listing.init)
        let normaliser = try config.makeNormaliser(now: .now(), known: known, listing: listing)
        // With a Kafka group, other instances may be running: what they have yet to record as
        // published is not owed. Their outbox is recovered on each assignment instead (below).
        if publisher == nil || config.kafka.isEmpty { try await engine.recoverOutbox() }
        let stats = DaemonStats()
        let clock: @Sendable () -> Timestamp = { .now() }
        let csv = config.csv
        let makeDecoder: DecoderFactory = { source, format, maxLineBytes in
            SourceDecoder(source: source,
                          decoder: FeedDecoder(format: format, csv: csv, normaliser: normaliser, maxLineBytes: maxLineBytes),
                          maxLineBytes: maxLineBytes, rejects: deadLetters)
        }
        let wiring = SourceWiring(makeDecoder: makeDecoder, deliver: { chunk in await queue.send(chunk) },
                                  report: { name, counts in stats.recordSource(name, counts) }, clock: clock,
                                  logger: Logger(label: "tickd.source"))
        let group = MultiThreadedEventLoopGroup.singleton

        // Live feeds cannot be read again: what they deliver is journaled before it is queued.
        var live = wiring
        if let journal {
            let gate = JournalGate(journal: journal, queue: queue, io: io, logger: Logger(label: "tickd.journal"))
            live.deliver = { chunk in await gate.deliver(chunk) }
        }
        let listeners = config.listeners.map {
            TCPFeedServer(options: $0, group: group, wiring: live.logging(as: "tickd.tcp"))
        }
        let upstreams = config.upstreams.map {
            TCPFeedClient(options: $0, group: group, wiring: live.logging(as: "tickd.upstream"))
        }
        let files = config.files.map {
            FileSourceService(path: $0.path, format: $0.format ?? config.format, speed: $0.speed, maxLineBytes: config.maxLineBytes,
                              wiring: wiring.logging(as: "tickd.file"), io: io, lane: first)
        }
        // Kafka partitions can be read again: no journal, the database records their offsets.
        let drainTimeout = Duration.milliseconds(config.drainTimeoutMilliseconds)
        let commits = CommitNotices()
        let rebalance = KafkaRebalance(first: first, publisher: publisher, drainTimeout: drainTimeout, commits: commits)
        let kafka = config.kafka.map {
            KafkaSourceService(options: $0, wiring: wiring.logging(as: "tickd.kafka"), databaseURL: url, io: io, rebalance: rebalance)
        }
        let readiness = Readiness(listeners: listeners, upstreams: upstreams)
        var watch: MarketWatch?
        if let session = config.exchangeProfile.session {
            watch = MarketWatch(session: session, zone: try config.exchangeZone(), staleAfter: .milliseconds(config.staleAfterMilliseconds),
                                feedSilentAfter: .milliseconds(config.feedSilentAfterMilliseconds),
                                interval: .milliseconds(max(100, min(5000, min(config.staleAfterMilliseconds, config.feedSilentAfterMilliseconds) / 4))),
                                lastTrades: try await first.perform { try $0.lastTrades() }, readiness: readiness, logger: Logger(label: "tickd.market"))
        }
        let pipeline = try await engine.pipeline(journal: journal, linger: config.batchLingerMilliseconds.map { .milliseconds($0) },
                                                 stats: stats, watch: watch, onCommitted: { _ in commits.committed() },
                                                 logger: Logger(label: "tickd.ingest"))
        let ingest = IngestService(pipeline: pipeline, logger: Logger(label: "tickd.ingest"))

        let probe = DatabaseProbe(url: url, readiness: readiness, logger: Logger(label: "tickd.health"))
        probe.start()
        defer { probe.stop() }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ingest, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "ingest")]
        services += listeners.map { .init(service: ListenerService(server: $0), serviceName: $0.options.name) }
        services += upstreams.map { .init(service: UpstreamService(client: $0), serviceName: $0.options.name) }
        services += files.map { .init(service: $0, successTerminationBehavior: .ignore, serviceName: "file \($0.path)") }
        services += kafka.map { .init(service: $0, serviceName: $0.description) }
        if let listing {
            services.append(.init(service: ListingReloadService(listing: listing, lane: first,
                                                                interval: .milliseconds(config.instrumentReloadMilliseconds),
                                                                logger: Logger(label: "tickd.instruments")),
                                  successTerminationBehavior: .ignore, serviceName: "instrument list"))
        }
        if let watch { services.append(.init(service: watch, successTerminationBehavior: .ignore, serviceName: "market watch")) }
        services += extraServices.map { .init(service: $0, successTerminationBehavior: .ignore) }
        if let address = config.metricsAddress, let registry = metricsRegistry {
            let (host, port) = try ConfigLoader.hostPort(address, key: "metrics.address", allowZero: true)
            services.append(.init(service: MetricsServer(host: host, port: port, registry: registry, readiness: readiness,
                                                         logger: Logger(label: "tickd.metrics")), serviceName: "metrics"))
        }
        if let notifier = SystemdNotifier(environment: environment) {
            // Last, so that it is the first to hear of a shutdown (STOPPING=1 at once).
            services.append(.init(service: NotifyService(notifier: notifier, readiness: readiness, stats: stats,
                                                         logger: Logger(label: "tickd.systemd")),
                                  successTerminationBehavior: .ignore, serviceName: "systemd-notify"))
        }
        var groupConfig = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                    logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .milliseconds(config.drainTimeoutMilliseconds)
        logger.notice("tickd running", metadata: ["listeners": "\(listeners.count)", "upstreams": "\(upstreams.count)",
                                                  "files": "\(files.count)", "kafka": "\(kafka.count)", "max_queued_ticks": "\(config.maxQueuedTicks)"])
        try await ServiceGroup(configuration: groupConfig).run()
        try await io.run { try deadLetters.flush() }
        if engine.database.candles != nil {
            // The last commits' candles, as far as the drain timeout allows.
            if try await engine.flushCandles(timeout: .milliseconds(config.drainTimeoutMilliseconds)) == false {
                logger.warning("candles: the last refresh did not finish in time; the next start or policy run catches up")
            }
        }
        logger.notice("tickd stopped", metadata: ["inserted": "\(stats.snapshot.inserted)"])
    }
}
