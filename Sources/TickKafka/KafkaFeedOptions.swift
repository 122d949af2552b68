import TickNormalisation

/// A Kafka source: the topics a consumer group shares, and how their messages are read. A
/// message holds one or more lines in the source's format.
public struct KafkaFeedOptions: Sendable {
    /// `bootstrap.servers`: a comma-separated list of host:port.
    public var brokers: String
    public var topics: [String]
    /// The consumer group (`group.id`): instances with the same group share the partitions.
    public var group: String
    public var format: FeedFormat
    public var maxLineBytes: Int
    /// librdkafka settings passed as they are (SASL, TLS, tuning); tickd's own (auto-commit off,
    /// the rebalance callback) are set after them.
    public var properties: [String: String]
    /// Settings whose value was read from a file (`sasl.password_file: /run/secrets/kafka`): the
    /// setting's name → the file, printed instead of the secret.
    public var secretFiles: [String: String] = [:]
    /// The most ticks a chunk carries to the pipeline; a chunk also ends when the poll finds no
    /// message waiting.
    public var maxChunkTicks = 2000

    public init(brokers: String, topics: [String], group: String, format: FeedFormat = .auto, maxLineBytes: Int,
                properties: [String: String] = [:]) {
        self.brokers = brokers
        self.topics = topics
        self.group = group
        self.format = format
        self.maxLineBytes = maxLineBytes
        self.properties = properties
    }

    /// The consumer's librdkafka settings.
    var consumerProperties: [String: String] {
        var all = properties
        all["bootstrap.servers"] = brokers
        all["group.id"] = group
        return all
    }
}

/// How a partition is named in `tickd_positions`: `kafka:<topic>/<partition>`; its offset is the
/// next one to read, the one after the last message committed.
public enum KafkaStream {
    public static func name(topic: String, partition: Int32) -> String { "kafka:\(topic)/\(partition)" }
    /// Positions of one partition are compared only with each other.
    public static let identity = "kafka"
}
