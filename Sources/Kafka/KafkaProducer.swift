import CRdKafka

/// A Kafka producer (loading a recorded day into a topic, tests). Owns its `rd_kafka_t`.
public final class KafkaProducer {
    let handle: OpaquePointer

    /// `properties` are librdkafka's (`bootstrap.servers` at least).
    public init(properties: [String: String]) throws(KafkaError) {
        handle = try KafkaConfiguration.client(RD_KAFKA_PRODUCER, try KafkaConfiguration.make(properties))
    }

    deinit {
        topics.values.forEach { rd_kafka_topic_destroy($0) }
        rd_kafka_destroy(handle)
    }

    /// Queues one message; `partition` nil lets the key choose it (librdkafka's default partitioner).
    public func send(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil) throws(KafkaError) {
        let handleOfTopic = try topicHandle(topic)
        while true {
            var value = value, key = key ?? []
            let keyLength = key.count
            let status = value.withUnsafeMutableBytes { bytes in
                key.withUnsafeMutableBytes { keyBytes in
                    // RD_KAFKA_MSG_F_COPY: librdkafka copies the bytes before this returns.
                    rd_kafka_produce(handleOfTopic, partition ?? RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                     bytes.baseAddress, bytes.count, keyLength == 0 ? nil : keyBytes.baseAddress, keyLength, nil)
                }
            }
            if status == 0 { return }
            let code = rd_kafka_last_error()
            // The local queue is full: let deliveries drain, then try again.
            if code == RD_KAFKA_RESP_ERR__QUEUE_FULL { rd_kafka_poll(handle, 100); continue }
            throw KafkaError("produce to \(topic)", code: code)
        }
    }

    private var topics: [String: OpaquePointer] = [:]

    private func topicHandle(_ name: String) throws(KafkaError) -> OpaquePointer {
        if let existing = topics[name] { return existing }
        guard let created = rd_kafka_topic_new(handle, name, nil) else { throw KafkaError("open topic \(name)", code: rd_kafka_last_error()) }
        topics[name] = created
        return created
    }

    /// Waits until every queued message is delivered, or `timeoutMilliseconds` passed.
    public func flush(timeoutMilliseconds: Int32 = 30_000) throws(KafkaError) {
        let code = rd_kafka_flush(handle, timeoutMilliseconds)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("flush", code: code) }
    }
}
