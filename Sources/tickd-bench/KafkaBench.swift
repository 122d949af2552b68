import Foundation
import Kafka
import LibPQ
import TickModel

/// `tickd-bench kafka-cluster CSV`: librdkafka's mock cluster (3 brokers on loopback, in this
/// process) with a 6-partition `trades` topic holding the CSV day, one trade a message, keyed by
/// symbol. Prints `brokers=… messages=…` once the day is in, then serves until killed.
///
/// The mock's partitions keep at most 5 MiB of record batches each, and drop the oldest past it;
/// zstd-compressed batches of up to 10,000 messages keep the day under that. The load checks the
/// partitions still start at offset 0 and hold every message, or fails.
func kafkaCluster(csv: String) throws {
    let cluster = try KafkaMockCluster(brokers: 3)
    try cluster.createTopic("trades", partitions: 6)
    let producer = try KafkaProducer(properties: [
        "bootstrap.servers": cluster.bootstrapServers, "compression.type": "zstd", "linger.ms": "100",
        "batch.num.messages": "10000", "queue.buffering.max.messages": "1000000",
    ])
    let text = try String(contentsOfFile: csv, encoding: .utf8)
    var messages = 0
    for line in text.split(separator: "\n").dropFirst() {   // the header
        let symbol = line.split(separator: ",", maxSplits: 2)[1]
        try producer.send(topic: "trades", key: Array(symbol.utf8), value: Array(line.utf8))
        messages += 1
    }
    try producer.flush(timeoutMilliseconds: 120_000)
    let probe = try KafkaConsumer(properties: ["bootstrap.servers": cluster.bootstrapServers, "group.id": "tickd-bench-probe"])
    var held = 0
    for partition: Int32 in 0..<6 {
        guard let marks = probe.watermarks(topic: "trades", partition: partition) else {
            throw BenchFailure(description: "kafka-cluster: no watermarks for trades/\(partition)")
        }
        guard marks.low == 0 else {
            throw BenchFailure(description: "kafka-cluster: the mock cluster dropped trades/\(partition) up to offset \(marks.low)")
        }
        held += Int(marks.high)
    }
    guard held == messages else { throw BenchFailure(description: "kafka-cluster: \(held) of \(messages) messages held") }
    FileHandle.standardOutput.write(Data("brokers=\(cluster.bootstrapServers) messages=\(messages)\n".utf8))
    while true { Thread.sleep(forTimeInterval: 3600) }
}

/// `tickd-bench kafka-wait DATABASE_URL MESSAGES TIMEOUT_S`: polls `tickd_positions` every 20 ms
/// until the Kafka partitions' committed offsets add up to MESSAGES; prints the seconds to the
/// first commit and to the last, and the rate in between.
func kafkaWait(databaseURL: String, messages: Int, timeoutSeconds: Int) throws {
    let db = try Connection(conninfo: databaseURL)
    let start = ContinuousClock.now
    var first: Duration?
    while true {
        let row = try db.execute("SELECT coalesce(sum(applied), 0) FROM tickd_positions WHERE identity = 'kafka'").rows[0]
        let applied = Int(row[0] ?? "0") ?? 0
        let now = ContinuousClock.now - start
        if applied > 0 && first == nil { first = now }
        if applied >= messages, let first {
            let span = (now - first).seconds
            print(String(format: "kafka: first commit after %.2f s, all %d messages after %.2f s; %.0f ticks/s from the first commit",
                         first.seconds, messages, now.seconds, Double(messages) / max(span, 0.001)))
            return
        }
        if now > .seconds(timeoutSeconds) {
            throw BenchFailure(description: "kafka-wait: \(applied) of \(messages) committed after \(timeoutSeconds) s")
        }
        Thread.sleep(forTimeInterval: 0.02)
    }
}
