// tickd-bench: the benchmark tools scripts/bench.sh runs (release build; figures, not pass/fail).
//
//   tickd-bench parse [FEEDS]                     parse + normalise throughput on the sample day
//   tickd-bench generate DIR COUNT                a COUNT-tick CSV day for the 20 NSE symbols, and an NDJSON copy
//   tickd-bench stream PORT RATE SECONDS REDIS_URL PREFIX [PID] [SUBSCRIBERS[/symbol]]
//                                                 a publisher at RATE ticks/s into tickd's listener and
//                                                 SUBSCRIBERS Redis subscribers (1) on every channel, or with
//                                                 /symbol on one instrument's each: tick-to-subscriber
//                                                 latency, tickd's RSS over the run
//   tickd-bench kafka-cluster CSV                 librdkafka's mock cluster holding the day in a 6-partition topic
//   tickd-bench kafka-wait DATABASE_URL MESSAGES TIMEOUT_S
//                                                 the time until tickd's Kafka offsets in the database reach MESSAGES
import Foundation

do {
    var arguments = Array(CommandLine.arguments.dropFirst())
    let command = arguments.isEmpty ? "parse" : arguments.removeFirst()
    switch command {
    case "parse":
        try parseBench(feeds: arguments.first ?? "Seeds/feeds")
    case "generate":
        guard arguments.count == 2, let count = Int(arguments[1]) else { throw BenchUsage() }
        try generateDay(directory: arguments[0], count: count)
    case "stream":
        guard arguments.count >= 5, let port = Int(arguments[0]), let rate = Int(arguments[1]),
              let seconds = Int(arguments[2]) else { throw BenchUsage() }
        try streamBench(port: port, rate: rate, seconds: seconds, redisURL: arguments[3], prefix: arguments[4],
                        tickdPID: arguments.count > 5 ? Int32(arguments[5]) : nil,
                        subscribers: arguments.count > 6 ? Int(arguments[6].split(separator: "/")[0]) ?? 1 : 1,
                        perSymbol: arguments.count > 6 && arguments[6].hasSuffix("/symbol"))
    case "kafka-cluster":
        guard arguments.count == 1 else { throw BenchUsage() }
        try kafkaCluster(csv: arguments[0])
    case "kafka-wait":
        guard arguments.count == 3, let messages = Int(arguments[1]), let timeout = Int(arguments[2]) else { throw BenchUsage() }
        try kafkaWait(databaseURL: arguments[0], messages: messages, timeoutSeconds: timeout)
    default:
        throw BenchUsage()
    }
} catch {
    FileHandle.standardError.write(Data("tickd-bench: \(error)\n".utf8))
    exit(error is BenchUsage ? 2 : 1)
}

struct BenchUsage: Error, CustomStringConvertible {
    var description: String {
        "usage: tickd-bench parse [FEEDS] | generate DIR COUNT | stream PORT RATE SECONDS REDIS_URL PREFIX [PID] [SUBSCRIBERS[/symbol]]"
            + " | kafka-cluster CSV | kafka-wait DATABASE_URL MESSAGES TIMEOUT_S"
    }
}

/// A run that could not finish (exit 1).
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
}
