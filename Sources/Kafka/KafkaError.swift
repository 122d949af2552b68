import CRdKafka

/// A librdkafka call failed: what was being done, librdkafka's own words and, where it gave
/// one, its error code (`rd_kafka_resp_err_t`) and the code's name (`_PARTITION_EOF`,
/// `OFFSET_OUT_OF_RANGE`), so callers decide by code, not by message.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let message: String
    /// librdkafka's error code, nil where the failure had none (a bad configuration value).
    public let code: Int32?

    public init(_ operation: String, _ message: String, code: Int32? = nil) {
        self.operation = operation
        self.message = message
        self.code = code
    }

    init(_ operation: String, code: rd_kafka_resp_err_t) {
        self.init(operation, String(cString: rd_kafka_err2str(code)), code: code.rawValue)
    }

    /// The code's name as librdkafka spells it (`OFFSET_OUT_OF_RANGE`), nil without a code.
    public var codeName: String? { code.map { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: $0))) } }

    public var description: String { "kafka: \(operation): \(message)" }
}
