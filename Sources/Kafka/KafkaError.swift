import CRdKafka

/// A librdkafka call failed: what was being done and librdkafka's own words.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let message: String

    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    init(_ operation: String, code: rd_kafka_resp_err_t) {
        self.init(operation, String(cString: rd_kafka_err2str(code)))
    }

    public var description: String { "kafka: \(operation): \(message)" }
}
