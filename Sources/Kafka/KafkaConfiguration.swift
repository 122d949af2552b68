import CRdKafka

/// librdkafka properties (`bootstrap.servers`, `group.id`, `security.protocol`, …) made into an
/// `rd_kafka_conf_t`. A property librdkafka does not know, or a bad value, is an error naming it.
public enum KafkaConfiguration {
    /// The first of `properties` (by name) librdkafka refuses — an unknown name or a bad value —
    /// with its reason; nil when it takes them all. Creates no client and connects to nothing, so
    /// a configuration can be checked before tickd starts.
    public static func firstRefused(_ properties: [String: String]) -> (name: String, reason: String)? {
        guard let conf = rd_kafka_conf_new() else { return nil }
        defer { rd_kafka_conf_destroy(conf) }
        var message = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) where rd_kafka_conf_set(conf, key, value, &message, message.count) != RD_KAFKA_CONF_OK {
            return (key, text(message))
        }
        return nil
    }

    /// A new configuration with `properties` set; the caller hands it to `rd_kafka_new`, which
    /// takes ownership.
    static func make(_ properties: [String: String]) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError("configure", "out of memory") }
        var message = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &message, message.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError("configure \(key)", text(message))
            }
        }
        return conf
    }

    /// `rd_kafka_new` with the configuration (which it owns from then on, also on failure).
    static func client(_ type: rd_kafka_type_t, _ conf: OpaquePointer) throws(KafkaError) -> OpaquePointer {
        var message = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &message, message.count) else {
            throw KafkaError("create client", text(message))
        }
        return handle
    }

    /// A C string librdkafka wrote into `buffer`.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
