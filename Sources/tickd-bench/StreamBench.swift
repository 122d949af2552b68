import Foundation
import Hiredis
import TickCodecs
import TickModel

/// `tickd-bench stream`: a publisher sends RATE ticks/s for SECONDS to tickd's listener, each
/// tick's time being its send time (ms); a subscriber on `PREFIX*` takes the receive time of
/// each message. Prints tick-to-Redis latency p50/p99/max, ticks sent/received, and tickd's RSS
/// (first, last and peak sample, one a second) when its PID is given.
func streamBench(port: Int, rate: Int, seconds: Int, redisURL: String, prefix: String, tickdPID: Int32?) throws {
    let total = rate * seconds
    let redis = try RedisConnection(url: try RedisURL(parsing: redisURL), timeout: .seconds(300))
    _ = try redis.command(["PSUBSCRIBE", "\(prefix)*"])
    nonisolated(unsafe) var latencies: [Int64] = []
    nonisolated(unsafe) var sentAt: [Int64] = []
    latencies.reserveCapacity(total)
    sentAt.reserveCapacity(total)
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) let subscriber = redis
    Thread {
        while latencies.count < total {
            guard case .array(let parts) = (try? subscriber.readReply()) ?? .null, parts.count == 4,
                  case .string(let payload) = parts[3] else { break }
            let received = Timestamp.now().nanosecondsSinceEpoch / 1_000_000
            if let sent = sentMillis(payload) {
                latencies.append(received - sent)
                sentAt.append(sent)
            }
        }
        done.signal()
    }.start()

    let socket = try BenchSocket(port: port)
    try socket.send(Array((TickEncoder.csvHeader + "\n").utf8))
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
            TickEncoder.appendCSV(Tick.trade(time: millis, symbol: symbol, price: Price(units: onGrid(price), scale: 2), size: 100,
                                             feedSequence: Int64(sent + 1)), to: &buffer)
            sent += 1
        }
        try socket.send(buffer)
        if let tickdPID, ContinuousClock.now >= nextSample {
            rss.append(residentBytes(tickdPID))
            nextSample += .seconds(1)
        }
        Thread.sleep(forTimeInterval: 0.001)
    }
    let sendSeconds = (ContinuousClock.now - start).seconds
    let complete = done.wait(timeout: .now() + 60) == .success
    if let tickdPID { rss.append(residentBytes(tickdPID)) }
    let sorted = latencies.sorted()
    func percentile(_ p: Double) -> Int64 { sorted.isEmpty ? -1 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
    print(String(format: "stream: sent %d ticks in %.1f s (%.0f ticks/s); received %d on Redis%@",
                 total, sendSeconds, Double(total) / sendSeconds, latencies.count, complete ? "" : " (timed out waiting for the rest)"))
    print("stream: tick-to-Redis latency p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(sorted.last ?? -1) ms")
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

private func residentBytes(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
    return kb * 1024
}

/// A blocking TCP client socket on loopback.
final class BenchSocket {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw BenchUsage() }
        // A feed publisher sends each tick as it happens: no Nagle delay on the way out.
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; throw BenchUsage() }
            offset += n
        }
    }
}
