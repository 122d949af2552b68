import Foundation
import Synchronization
import Hiredis
import TickCodecs
import TestSupport
import TickModel

/// `tickd-bench stream`: a publisher sends RATE ticks/s for SECONDS to tickd's listener, each
/// tick's time being its send time (ms); SUBSCRIBERS subscribers (default 1) on `PREFIX*`, each
/// on a connection and thread of its own, take the receive time of each message. Prints
/// tick-to-subscriber latency p50/p99/max over every subscriber's messages, ticks sent and
/// received, and tickd's RSS (first, last and peak sample, one a second) when its PID is given.
/// With `perSymbol`, subscriber i follows one instrument's channel (`PREFIX<SYMBOL>`, the 20
/// instruments in turn) as an app screen does, instead of every channel.
func streamBench(port: Int, rate: Int, seconds: Int, redisURL: String, prefix: String, tickdPID: Int32?, subscribers: Int = 1,
                 perSymbol: Bool = false) throws {
    let total = rate * seconds
    // What each subscriber should receive: every tick, or its instrument's share.
    let expected = (0..<subscribers).map { index in
        perSymbol ? (0..<total).count { $0 % 20 == index % 20 } : total
    }
    let expectedAll = expected.reduce(0, +)
    /// One subscriber's record, written on its reading thread only and read once all arrived
    /// or the subscribers stopped.
    final class Received: @unchecked Sendable {
        var latencies: [Int64] = []
        var sentAt: [Int64] = []
    }
    let logs = (0..<subscribers).map { _ in Received() }
    let arrived = Mutex(0)
    let all = DispatchSemaphore(value: 0)
    let listeners = try logs.enumerated().map { index, log in
        log.latencies.reserveCapacity(expected[index])
        log.sentAt.reserveCapacity(expected[index])
        let channel = perSymbol ? prefix + nseInstruments[index % 20].0.rawValue : prefix
        return try TickSubscriber(url: redisURL, prefix: channel) { payload in
            let received = Timestamp.now().nanosecondsSinceEpoch / 1_000_000
            guard let sent = sentMillis(payload) else { return }
            log.latencies.append(received - sent)
            log.sentAt.append(sent)
            if arrived.withLock({ $0 += 1; return $0 }) == expectedAll { all.signal() }
        }
    }

    // A feed publisher sends each tick as it happens: no Nagle delay on the way out.
    let socket = try LineSocket(port: port, noDelay: true)
    try send(socket, Array((TickEncoder.csvHeader + "\n").utf8))
    var rss: [Int] = []
    let start = ContinuousClock.now
    var sent = 0
    var nextSample = start
    let perMillisecond = max(1, rate / 1000)
    var buffer: [UInt8] = []
    while sent < total {
        // Send what is due by now (50 ticks per ms at 50,000/s), then sleep to the next ms.
        let due = min(total, Int(Double(rate) * (ContinuousClock.now - start).seconds) + perMillisecond)
        buffer.removeAll(keepingCapacity: true)
        let now = Timestamp.now()
        let millis = Timestamp(nanosecondsSinceEpoch: now.nanosecondsSinceEpoch / 1_000_000 * 1_000_000)
        while sent < due {
            let (symbol, price) = nseInstruments[sent % 20]
            TickEncoder.appendCSV(Tick.trade(time: millis, symbol: symbol, price: Price(units: NSEInstruments.onGrid(price), scale: 2), size: 100,
                                             feedSequence: Int64(sent + 1)), to: &buffer)
            sent += 1
        }
        try send(socket, buffer)
        if let tickdPID, ContinuousClock.now >= nextSample {
            rss.append(processStatusBytes(pid: tickdPID, "VmRSS:") ?? 0)
            nextSample += .seconds(1)
        }
        Thread.sleep(forTimeInterval: 0.001)
    }
    let sendSeconds = (ContinuousClock.now - start).seconds
    let complete = all.wait(timeout: .now() + 60) == .success
    // The end marker goes to `<prefix>__end__`, which only a subscriber to every channel sees.
    let end = try RedisConnection(url: try RedisURL(parsing: redisURL))
    for listener in listeners { _ = try end.command(["PUBLISH", "\(listener.prefix)__end__", "end"]) }
    for listener in listeners { try listener.finish(publishingEnd: false, timeout: .seconds(5)) }
    if let tickdPID { rss.append(processStatusBytes(pid: tickdPID, "VmRSS:") ?? 0) }
    let latencies = logs.flatMap(\.latencies), sentAt = logs.flatMap(\.sentAt)
    let sorted = latencies.sorted()
    func percentile(_ p: Double) -> Int64 { sorted.isEmpty ? -1 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
    let received = subscribers == 1 ? latencies.count : Int(Double(latencies.count) / Double(expectedAll) * Double(total))
    print(String(format: "stream: sent %d ticks in %.1f s (%.0f ticks/s); received %d on Redis%@",
                 total, sendSeconds, Double(total) / sendSeconds, received, complete ? "" : " (timed out waiting for the rest)"))
    if subscribers > 1 {
        let short = zip(logs, expected).filter { $0.latencies.count < $1 }.count
        print("stream: \(subscribers) subscribers\(perSymbol ? " (one instrument each)" : "") received \(latencies.count) of \(expectedAll) messages; \(short) subscribers short")
    }
    print("stream: tick-to-subscriber latency p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(sorted.last ?? -1) ms")
    // Where the slow ticks are: p99 per second of sending.
    if let first = sentAt.first {
        var bySecond: [[Int64]] = []
        for (sent, latency) in zip(sentAt, latencies) {
            let second = Int((sent - first) / 1000)
            while bySecond.count <= second { bySecond.append([]) }
            bySecond[second].append(latency)
        }
        let line = bySecond.map { ticks -> String in
            let ordered = ticks.sorted()
            return ordered.isEmpty ? "-" : String(ordered[min(ordered.count - 1, Int(Double(ordered.count) * 0.99))])
        }
        print("stream: p99 per second of sending (ms): " + line.joined(separator: " "))
    }
    if !rss.isEmpty {
        print("stream: tickd RSS first \(rss.first! >> 20) MiB, last \(rss.last! >> 20) MiB, peak \(rss.max()! >> 20) MiB (\(rss.count) samples)")
        print("stream: tickd RSS per second (MiB): " + rss.map { String($0 >> 20) }.joined(separator: " "))
    }
}

/// The `time` of a tick message in ms since the epoch.
private func sentMillis(_ payload: [UInt8]) -> Int64? {
    let key = Array(#""time":""#.utf8)
    guard let start = payload.firstRange(of: key)?.upperBound,
          let end = payload[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
    return payload[start..<end].withUnsafeBufferPointer { text in
        if case .instant(let time) = TimeText.parse(text) { return time.nanosecondsSinceEpoch / 1_000_000 }
        return nil
    }
}

/// Writes all of `bytes`, or throws when tickd closed the connection.
private func send(_ socket: LineSocket, _ bytes: [UInt8]) throws {
    guard socket.sendSome(bytes) == bytes.count else { throw BenchFailure(description: "tickd closed the feed connection") }
}
