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
        try await engine.using { try await serve($0, url: url, io: io) }
    }

    /// The journal, the pipeline over the engine, the sources and the operations, as one service
    /// group, until it ends.
    private func serve(_ engine: EngineAssembly, url: String, io: BlockingIO) async throws {
        let config = self.config
        let logger = self.logger
        let (deadLetters, publisher, queue) = (engine.deadLetters, engine.publisher, engine.queue)
        let first = engine.first
        let known = engine.database.known
        // The journal first: records of another database must stop tickd before it writes anything.
        let journal = try await openJournal(first: first, io: io)
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
        let commits = CommitNotices()
        let sources = try DaemonSources(config: config, url: url, wiring: wiring, journal: journal, queue: queue, io: io, first: first,
                                    rebalance: KafkaRebalance(first: first, publisher: publisher,
                                                              drainTimeout: .milliseconds(config.drainTimeoutMilliseconds), commits: commits))
        let readiness = Readiness(listeners: sources.listeners, upstreams: sources.upstreams)
        var watch: MarketWatch?
        if let session = config.exchangeProfile.session {
            watch = MarketWatch(session: session, zone: try config.exchangeZone(), staleAfter: .milliseconds(config.staleAfterMilliseconds),
                                feedSilentAfter: .milliseconds(config.feedSilentAfterMilliseconds),
                                interval: .milliseconds(max(100, min(5000, min(config.staleAfterMilliseconds, config.feedSilentAfterMilliseconds) / 4))),
                                lastTrades: try await first.perform { try await $0.sink.lastTrades() }, readiness: readiness, logger: Logger(label: "tickd.market"))
        }
        let pipeline = try await engine.pipeline(journal: journal, linger: config.batchLingerMilliseconds.map { .milliseconds($0) },
                                                 stats: stats, watch: watch, onCommitted: { _ in commits.committed() },
                                                 logger: Logger(label: "tickd.ingest"))
        let ingest = IngestService(pipeline: pipeline, logger: Logger(label: "tickd.ingest"))

        let probe = DatabaseProbe(url: url, readiness: readiness, logger: Logger(label: "tickd.health"))
        probe.start()
        defer { probe.stop() }

        // Ingest first: the group shuts services down in reverse, so it stops last.
        let services = [ServiceGroupConfiguration.ServiceConfiguration(service: ingest, successTerminationBehavior: .gracefullyShutdownGroup,
                                                                       serviceName: "ingest")]
            + sources.services
            + (try operations(listing: listing, first: first, watch: watch, readiness: readiness, stats: stats, url: url, io: io))
        var groupConfig = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                    logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .milliseconds(config.drainTimeoutMilliseconds)
        logger.notice("tickd running", metadata: ["listeners": "\(sources.listeners.count)", "upstreams": "\(sources.upstreams.count)",
                                                  "files": "\(sources.files.count)", "kafka": "\(sources.kafka.count)",
                                                  "max_queued_ticks": "\(config.maxQueuedTicks)"])
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

    /// Opens the journal and binds it to this database (or checks that it is bound to it).
    /// Opening reads and repairs segments, claiming writes a file: on an I/O thread.
    private func openJournal(first: WriterLane, io: BlockingIO) async throws -> Journal? {
        guard config.journalEnabled else { return nil }
        let journalOptions = config.journalOptions
        let journal = try await io.run { try Journal(options: journalOptions, logger: Logger(label: "tickd.journal")) }
        let database = try await first.perform { try await $0.sink.databaseIdentity() }
        if try await io.run({ try journal.claim(for: database) }) == .bind {
            logger.notice("journal: bound to this database", metadata: ["directory": "\(journal.options.directory)", "database": "\(database)"])
        }
        return journal
    }

    /// The services around the engine and its sources: the listing reload, the market watch, the
    /// trading status (clock and messages), tests' extra services, the metrics endpoint, and systemd's notifications (last, so that it
    /// is the first to hear of a shutdown: STOPPING=1 at once).
    private func operations(listing: Listing?, first: WriterLane, watch: MarketWatch?, readiness: Readiness,
                            stats: DaemonStats, url: String, io: BlockingIO) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let listing {
            services.append(.init(service: ListingReloadService(listing: listing, lane: first,
                                                                interval: .milliseconds(config.instrumentReloadMilliseconds),
                                                                logger: Logger(label: "tickd.instruments")),
                                  successTerminationBehavior: .ignore, serviceName: "instrument list"))
        }
        if let watch { services.append(.init(service: watch, successTerminationBehavior: .ignore, serviceName: "market watch")) }
        services.append(.init(service: TradingStatusService(url: url, redis: try config.publisherOptions(), prefix: config.redisStatusPrefix,
                                                            session: config.exchangeProfile.session,
                                                            zone: try config.exchangeZone(), interval: .milliseconds(500), io: io,
                                                            logger: Logger(label: "tickd.status")),
                              successTerminationBehavior: .ignore, serviceName: "trading status"))
        services += extraServices.map { .init(service: $0, successTerminationBehavior: .ignore) }
        if let address = config.metricsAddress, let registry = metricsRegistry {
            let (host, port) = try ConfigLoader.hostPort(address, key: "metrics.address", allowZero: true)
            services.append(.init(service: MetricsServer(host: host, port: port, registry: registry, readiness: readiness,
                                                         logger: Logger(label: "tickd.metrics")), serviceName: "metrics"))
        }
        if let notifier = SystemdNotifier(environment: environment) {
            services.append(.init(service: NotifyService(notifier: notifier, readiness: readiness, stats: stats,
                                                         logger: Logger(label: "tickd.systemd")),
                                  successTerminationBehavior: .ignore, serviceName: "systemd-notify"))
        }
        return services
    }
}
