import ArgumentParser
import Foundation
import Metrics
import Prometheus
import TickDaemon
import TickKafka
import TickSources

/// `tickd run`: the daemon — every source of the config and the flags, until SIGTERM/SIGINT.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the daemon: every configured source until SIGTERM/SIGINT, then flush, commit, publish, exit 0.")

    @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
    var configPath: String?

    @Option(help: "Also listen for feed publishers on HOST:PORT (repeatable; listener defaults of the config).")
    var listen: [String] = []

    @Option(help: "Also connect to an upstream feed at HOST:PORT (repeatable).")
    var connect: [String] = []

    @Option(help: "Serve /metrics, /healthz and /readyz on HOST:PORT.")
    var metrics: String?

    @Option(name: .customLong("kafka-brokers"), help: "Also consume Kafka: bootstrap brokers HOST:PORT[,HOST:PORT...] (with --kafka-topic and --kafka-group).")
    var kafkaBrokers: String?

    @Option(name: .customLong("kafka-topic"), help: "A topic the Kafka group shares (repeatable).")
    var kafkaTopics: [String] = []

    @Option(name: .customLong("kafka-group"), help: "The Kafka consumer group; instances in one group share the partitions.")
    var kafkaGroup: String?

    func run() async throws {
        var config = try loadConfig(configPath)
        if let metrics {
            _ = try ConfigLoader.hostPort(metrics, key: "--metrics", allowZero: true)
            config.metricsAddress = metrics
        }
        for address in listen {
            let (host, port) = try ConfigLoader.hostPort(address, key: "--listen", allowZero: true)
            config.listeners.append(ListenerOptions(host: host, port: port, format: config.format, maxLineBytes: config.maxLineBytes))
        }
        for address in connect {
            let (host, port) = try ConfigLoader.hostPort(address, key: "--connect", allowZero: false)
            config.upstreams.append(UpstreamOptions(host: host, port: port, format: config.format, maxLineBytes: config.maxLineBytes))
        }
        if kafkaBrokers != nil || !kafkaTopics.isEmpty || kafkaGroup != nil {
            guard let brokers = kafkaBrokers, !brokers.isEmpty else { throw ConfigError(key: "--kafka-brokers", "is required with --kafka-topic and --kafka-group") }
            guard !kafkaTopics.isEmpty else { throw ConfigError(key: "--kafka-topic", "is required with --kafka-brokers") }
            guard let group = kafkaGroup, !group.isEmpty else { throw ConfigError(key: "--kafka-group", "is required with --kafka-brokers") }
            config.kafka.append(KafkaFeedOptions(brokers: brokers, topics: kafkaTopics, group: group, format: config.format,
                                                 maxLineBytes: config.maxLineBytes))
        }
        var daemon = Daemon(config: config)
        if config.metricsAddress != nil {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            daemon.metricsRegistry = registry
        }
        try await daemon.run()
    }
}
