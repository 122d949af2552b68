import CRdKafka

/// One partition of a topic, and an offset in it.
public struct KafkaPartition: Hashable, Sendable {
    public var topic: String
    public var partition: Int32
    /// The next offset to read (on assignment), or after the last one processed (to commit).
    public var offset: Int64?

    public init(topic: String, partition: Int32, offset: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// Receives librdkafka's log lines: the syslog level (0 emergency … 7 debug), the facility
/// (`FAIL`, `REQTMOUT`, …) and the text. Called on librdkafka's threads.
public typealias KafkaLog = @Sendable (_ level: Int32, _ facility: String, _ message: String) -> Void

/// A rebalance of the group: partitions given to this consumer, or taken from it.
public enum KafkaRebalanceEvent: Sendable {
    case assign([KafkaPartition])
    case revoke([KafkaPartition])
}

/// A message read from a partition.
public struct KafkaMessage: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
}

/// A consumer in a group, with offsets under the caller's control: auto-commit is off, and a
/// rebalance is the caller's to settle. librdkafka's rebalance callback only notes it inside
/// `poll`; the caller takes it once `poll` returns (`takeRebalance`) and answers with `assign`
/// when it is ready: on assignment, with each partition's start offset (nil: the group's
/// committed offset, else `auto.offset.reset`); on revocation, with nil. librdkafka waits for that
/// call (within the session timeout), so the work a rebalance needs may suspend instead of
/// blocking a thread. Owns its `rd_kafka_t`; use it from one thread at a time.
public final class KafkaConsumer {
    let handle: OpaquePointer
    private let rebalance: Rebalance

    /// The rebalance noted inside `poll` and not yet taken, and where librdkafka's own log lines
    /// go. Reached from librdkafka's callbacks through the handle's opaque pointer.
    final class Rebalance {
        let onLog: KafkaLog?
        var pending: KafkaRebalanceEvent?
        /// Set by `close`: the partitions were settled before it, and are released at once.
        var leaving = false
        init(onLog: KafkaLog?) {
            self.onLog = onLog
        }
    }

    /// `properties` are librdkafka's; `bootstrap.servers` and `group.id` at least. `onLog` takes
    /// librdkafka's log lines (from its own threads) instead of its default, stderr.
    public init(properties: [String: String], onLog: KafkaLog? = nil) throws(KafkaError) {
        var properties = properties
        properties["enable.auto.commit"] = "false"
        properties["enable.auto.offset.store"] = "false"
        let conf = try KafkaConfiguration.make(properties)
        rebalance = Rebalance(onLog: onLog)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(rebalance).toOpaque())
        if onLog != nil {
            rd_kafka_conf_set_log_cb(conf) { handle, level, facility, text in
                guard let handle, let opaque = rd_kafka_opaque(handle) else { return }
                let callbacks = Unmanaged<Rebalance>.fromOpaque(opaque).takeUnretainedValue()
                callbacks.onLog?(level, facility.map { String(cString: $0) } ?? "", text.map { String(cString: $0) } ?? "")
            }
        }
        rd_kafka_conf_set_rebalance_cb(conf) { handle, code, list, opaque in
            guard let handle, let opaque else { return }
            let rebalance = Unmanaged<Rebalance>.fromOpaque(opaque).takeUnretainedValue()
            if rebalance.leaving {
                rd_kafka_assign(handle, nil)
            } else {
                let partitions = KafkaConsumer.partitions(of: list)
                rebalance.pending = code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? .assign(partitions) : .revoke(partitions)
            }
        }
        handle = try KafkaConfiguration.client(RD_KAFKA_CONSUMER, conf)
        rd_kafka_poll_set_consumer(handle)
    }

    private var closed = false

    deinit {
        close()
        rd_kafka_destroy(handle)
    }

    /// Leaves the group: the partitions it holds are released at once (settle them first).
    /// Polling after it returns nothing.
    public func close() {
        guard !closed else { return }
        closed = true
        rebalance.leaving = true
        rd_kafka_consumer_close(handle)
    }

    /// Whether a rebalance was noted and not yet taken.
    public var rebalancePending: Bool { rebalance.pending != nil }

    /// The rebalance noted inside the last `poll`, if any; answer it with `assign`.
    public func takeRebalance() -> KafkaRebalanceEvent? {
        defer { rebalance.pending = nil }
        return rebalance.pending
    }

    /// Sets the partitions read from now on, each from its offset (nil: the group's committed
    /// one); `nil` releases every partition (the answer to a revocation).
    public func assign(_ partitions: [KafkaPartition]?) throws(KafkaError) {
        let list = partitions.map(KafkaConsumer.list)
        defer { list.map(rd_kafka_topic_partition_list_destroy) }
        let code = rd_kafka_assign(handle, list)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("assign partitions", code: code) }
    }

    public func subscribe(_ topics: [String]) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let code = rd_kafka_subscribe(handle, list)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("subscribe to \(topics.joined(separator: ","))", code: code) }
    }

    /// The next message, nil when none came within `timeoutMilliseconds` (rebalances run inside).
    /// Errors the client recovers from by itself (a broker down, a partition's end) are skipped.
    public func poll(timeoutMilliseconds: Int32) throws(KafkaError) -> KafkaMessage? {
        guard let pointer = rd_kafka_consumer_poll(handle, timeoutMilliseconds) else { return nil }
        defer { rd_kafka_message_destroy(pointer) }
        let message = pointer.pointee
        if message.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            if message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF || message.err == RD_KAFKA_RESP_ERR__TRANSPORT { return nil }
            if message.err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN { return nil }
            let partition = message.rkt.map { "\(String(cString: rd_kafka_topic_name($0)))/\(message.partition)" } ?? "?"
            if message.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET {
                // auto.offset.reset=error and the offset to resume from is gone (retention) or not yet there.
                throw KafkaError("consume \(partition)", "the offset to resume from is out of the partition's range, and "
                                 + "auto.offset.reset is error (\(KafkaConsumer.text(of: message)))", code: message.err.rawValue)
            }
            throw KafkaError("consume \(partition)", code: message.err)
        }
        let topic = String(cString: rd_kafka_topic_name(message.rkt))
        let value = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) } ?? []
        let key = message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) }
        return KafkaMessage(topic: topic, partition: message.partition, offset: message.offset, key: key, value: value)
    }

    /// The partition's first and next offsets as its leader reports them now (a broker round trip,
    /// up to `timeoutMilliseconds`); nil when it could not be asked.
    public func watermarks(topic: String, partition: Int32, timeoutMilliseconds: Int32 = 5_000) -> (low: Int64, high: Int64)? {
        var low: Int64 = -1, high: Int64 = -1
        let code = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, timeoutMilliseconds)
        return code == RD_KAFKA_RESP_ERR_NO_ERROR ? (low, high) : nil
    }

    /// An error message's text (librdkafka puts its explanation in the payload).
    static func text(of message: rd_kafka_message_t) -> String {
        guard let payload = message.payload, message.len > 0 else { return String(cString: rd_kafka_err2str(message.err)) }
        return String(decoding: UnsafeRawBufferPointer(start: payload, count: message.len), as: UTF8.self)
    }

    /// Commits `offsets` (the next offset to read, per partition) to the group; `waiting` blocks
    /// until the group coordinator has answered (at stop), else it returns at once.
    public func commit(_ offsets: [KafkaPartition], waiting: Bool = false) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = KafkaConsumer.list(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_commit(handle, list, waiting ? 0 : 1)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("commit offsets", code: code) }
    }

    static func partitions(of list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> [KafkaPartition] {
        guard let list, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = elements[index]
            return KafkaPartition(topic: String(cString: element.topic), partition: element.partition,
                                  offset: element.offset >= 0 ? element.offset : nil)
        }
    }

    static func list(_ partitions: [KafkaPartition]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        for partition in partitions {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
            element.pointee.offset = partition.offset ?? Int64(RD_KAFKA_OFFSET_INVALID)
        }
        return list
    }
}
