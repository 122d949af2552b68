import CRdKafka

/// librdkafka's mock cluster: brokers that speak the real protocol on loopback ports, for tests
/// (other processes connect to `bootstrapServers`). Lives as long as this object.
public final class KafkaMockCluster {
    private let owner: OpaquePointer
    private let cluster: OpaquePointer
    /// `host:port,…` of the brokers.
    public let bootstrapServers: String

    public init(brokers: Int32 = 3) throws(KafkaError) {
        // The cluster needs a client instance for its bookkeeping; a producer that sends nothing.
        owner = try KafkaConfiguration.client(RD_KAFKA_PRODUCER, try KafkaConfiguration.make(["log_level": "3"]))
        guard let cluster = rd_kafka_mock_cluster_new(owner, Int32(brokers)) else {
            rd_kafka_destroy(owner)
            throw KafkaError("start the mock cluster", "rd_kafka_mock_cluster_new failed")
        }
        self.cluster = cluster
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(owner)
    }

    public func createTopic(_ name: String, partitions: Int32, replicationFactor: Int32 = 1) throws(KafkaError) {
        let code = rd_kafka_mock_topic_create(cluster, name, partitions, replicationFactor)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("create topic \(name)", code: code) }
    }

    /// Takes broker `id` (1…) down, or brings it back up.
    public func setBroker(_ id: Int32, up: Bool) throws(KafkaError) {
        let code = up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("set broker \(id) \(up ? "up" : "down")", code: code) }
    }
}
