import Foundation
import Synchronization
import Testing
import TestSupport

/// Hostile peers against a listener with its default limits (256 connections, 32 per address),
/// next to an honest publisher: slow-loris, connections that send nothing, floods of connection
/// attempts from one and from many loopback addresses, a 100 MB line. Each case prints the honest
/// publisher's p99 (send → Redis message) alone and under attack, tickd's peak RSS against the
/// budget `check-config` prints, and what `/metrics` counted.
@Suite(.serialized, .ownThreads) struct HostilePeerTests {
    /// One running tickd with a listener and metrics, and a subscriber for the honest ticks.
    final class Harness {
        let db: TestDatabase
        let daemon: DaemonProcess
        let port: Int
        let metricsPort: Int
        let budgetBytes: Int
        let subscriber: TickSubscriber
        /// When each honest tick was sent, by its index.
        var sentAt: [Int: ContinuousClock.Instant] = [:]

        /// `listener`: more settings of the listener (YAML lines at its indentation).
        init(listener: String = "") throws {
            let redisURL = try #require(DaemonTests.redisURL)
            db = try TestDatabase()
            try db.migrateAndSeed()
            let config = try DaemonTests.configFile(db, """
                sources:
                  listen:
                    - address: "127.0.0.1:0"
                      format: csv
                \(listener)
                """)
            let environment = ["DATABASE_URL": db.url, "REDIS_URL": redisURL]
            let check = try TickdProcess.run(["check-config", "--config", config], environment: environment)
            let budgetLine = try #require(check.stdout.split(separator: "\n").first { $0.contains("memory budget") })
            budgetBytes = (Int(budgetLine.split(separator: " ").dropLast().last ?? "") ?? 0) << 20
            subscriber = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
            daemon = try DaemonProcess(["run", "--config", config, "--metrics", "127.0.0.1:0"], environment: environment)
            port = try #require(daemon.listeningPort(), "\(daemon.output)")
            metricsPort = try #require(OperationsTests.metricsPort(daemon), "\(daemon.output)")
        }

        /// Honest tick `i`: its price tells it apart in the Redis message.
        static func line(_ i: Int) -> String {
            let ms = i * 10
            return String(format: "2026-01-05T07:%02d:%02d.%03dZ,%@,%d.%02d,100,%d\n", ms / 60_000, ms / 1000 % 60, ms % 1000,
                          ReferenceFeed.symbols[i % 20], 100 + i / 100, i % 100, 5_000_000 + i)
        }

        static func index(ofClose close: String) -> Int? {
            let parts = close.split(separator: ".")
            guard parts.count == 2, let units = Int(parts[0]), let cents = Int(parts[1]) else { return nil }
            return (units - 100) * 100 + cents
        }

        /// Connects from 127.0.0.1 and sends ticks `range`, one every `pace`; returns how many
        /// connection attempts it took (a refused or evicted connection is tried again).
        @discardableResult
        func publish(_ range: Range<Int>, pace: Duration = .milliseconds(2)) throws -> Int {
            var attempts = 0
            var socket: LineSocket?
            while socket == nil {
                attempts += 1
                try #require(attempts <= 50, "the honest publisher never got a connection")
                if let candidate = try? LineSocket(port: port, from: "127.0.0.1"), candidate.send(ReferenceFeed.header),
                   !candidate.peerCloses(within: .milliseconds(100)) {
                    socket = candidate
                } else {
                    usleep(100_000)
                }
            }
            for i in range {
                sentAt[i] = .now
                try #require(socket!.send(Self.line(i)), "the honest connection was closed at tick \(i)")
                Thread.sleep(forTimeInterval: Double(pace.components.attoseconds) / 1e18)
            }
            socket!.closeWrite()
            return attempts
        }

        /// p99 of send → Redis message, in milliseconds, over ticks `range`; nil when one is missing.
        func p99(_ range: Range<Int>, arrivals: [Int: ContinuousClock.Instant]) -> Double? {
            var latencies: [Double] = []
            for i in range {
                guard let sent = sentAt[i], let arrived = arrivals[i] else { return nil }
                latencies.append(Double((arrived - sent).components.attoseconds) / 1e15 + Double((arrived - sent).components.seconds) * 1000)
            }
            latencies.sort()
            return latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
        }

        /// A counter of `/metrics` (summed over label sets that start with `series`).
        func metric(_ series: String) -> Double {
            let body = httpGet(port: metricsPort, path: "/metrics")?.body ?? ""
            return body.split(separator: "\n").filter { $0.hasPrefix(series) }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }

        /// Waits for every honest tick, stops tickd, checks and prints the case's figures.
        func finish(_ name: String, baseline: Range<Int>, attacked: Range<Int>) throws {
            let total = baseline.count + attacked.count
            #expect(eventually(timeout: .seconds(60)) { (try? db.value("SELECT count(*) FROM market_ticks")) == "\(total)" },
                    "\(daemon.output.suffix(3000))")
            let refused = metric("tickd_connections_refused_total")
            let evicted = metric("tickd_connections_evicted_total")
            let idle = metric("tickd_connections_idle_closed_total")
            let peak = daemon.peakResidentBytes ?? 0
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: .seconds(30)) == 0)
            let messages = try subscriber.finish()
            var arrivals: [Int: ContinuousClock.Instant] = [:]
            for (message, at) in zip(messages, subscriber.arrivals) {
                if let i = Self.index(ofClose: message.fields["close"] ?? "") { arrivals[i] = arrivals[i] ?? at }
            }
            let alone = p99(baseline, arrivals: arrivals), underAttack = p99(attacked, arrivals: arrivals)
            print(String(format: "hostile %@: honest publisher %d of %d ticks in Redis, p99 %.0f ms alone, %.0f ms under attack; "
                         + "tickd peak RSS %d MiB (budget %d MiB); refused %.0f, evicted %.0f, idle-closed %.0f",
                         name, arrivals.count, total, alone ?? -1, underAttack ?? -1, peak >> 20, budgetBytes >> 20, refused, evicted, idle))
            #expect(arrivals.count == total)
            #expect(peak > 0 && peak <= budgetBytes, "peak RSS \(peak >> 20) MiB over the budget \(budgetBytes >> 20) MiB")
            // Not starved: a locked-out or starved publisher waits for the attack to end (tens of
            // seconds). Against this run's own baseline, generously, because the attack shares the
            // two cores with it and with other suites running meanwhile (1.6 s was seen beside a
            // 14 s candle refresh of another suite).
            if let alone, let underAttack { #expect(underAttack <= alone * 10 + 3000, "p99 \(underAttack) ms vs \(alone) ms alone") }
            self.figures = (refused, evicted, idle)
        }
        var figures: (refused: Double, evicted: Double, idle: Double) = (0, 0, 0)
    }

    /// `count` connections, `perAddress` from each of 127.0.<subnet>.1, .2, …
    static func connections(_ count: Int, perAddress: Int, subnet: Int, port: Int) -> [LineSocket] {
        (0..<count).compactMap { try? LineSocket(port: port, from: "127.0.\(subnet).\(1 + $0 / perAddress)") }
    }

    /// A started thread making 10,000 connection attempts, attempt `n` from `from(n)`, keeping
    /// the first `holdFirst` open (the others hang up at once); it prints how long they took.
    static func flood(_ name: String, port: Int, from: @escaping @Sendable (Int) -> String, holdFirst: Int) -> Thread {
        let thread = Thread {
            var held: [LineSocket] = []
            let started = ContinuousClock.now
            for n in 0..<10_000 {
                guard let socket = try? LineSocket(port: port, from: from(n)) else { continue }
                if held.count < holdFirst { held.append(socket) }
            }
            print("hostile flood \(name): 10,000 connection attempts in \(ContinuousClock.now - started)")
            Thread.sleep(forTimeInterval: 1)
        }
        thread.start()
        return thread
    }

    @Test func connectionsThatSendNothingDoNotLockOutAnHonestPublisher() throws {
        let h = try Harness()
        try h.publish(0..<500)
        // The case: 300 silent connections, 30 from each of ten addresses (under the
        // per-address limit), more than the listener's 256 places.
        let mute = Self.connections(300, perAddress: 30, subnet: 2, port: h.port)
        #expect(mute.count == 300)
        let attempts = try h.publish(500..<2500)
        try h.finish("300 silent connections from 10 addresses (honest publisher in at attempt \(attempts))", baseline: 0..<500, attacked: 500..<2500)
        #expect(attempts == 1)
        #expect(h.figures.evicted >= 45)   // 44 over the limit, then the honest publisher's place
        withExtendedLifetime(mute) {}
    }

    @Test func slowLorisConnectionsGiveWayAndTimeOutAlthoughTheySendBytes() throws {
        let h = try Harness(listener: "      idle_timeout_ms: 3000")
        try h.publish(0..<500)
        let loris = Self.connections(300, perAddress: 30, subnet: 3, port: h.port)
        let stop = Mutex(false)
        let dripping = Thread {
            // One byte of a line that never ends, on every connection, every two seconds.
            while !stop.withLock({ $0 }) {
                for socket in loris { _ = socket.sendSome([UInt8(ascii: "2")]) }
                Thread.sleep(forTimeInterval: 2)
            }
        }
        dripping.start()
        let attempts = try h.publish(500..<2500)
        // Bytes every 2 s, but no line within the 3 s idle timeout: closed.
        Thread.sleep(forTimeInterval: 2)
        stop.withLock { $0 = true }
        try h.finish("300 slow-loris connections, a byte every 2 s, idle timeout 3 s (honest publisher in at attempt \(attempts))",
                     baseline: 0..<500, attacked: 500..<2500)
        #expect(attempts == 1)
        // Every one was closed: evicted while the listener was full, or at the idle timeout. How
        // many of each depends on how fast the 300 connect (44 evicted when all are in within
        // the 3 s; fewer on a loaded machine, where the first time out before the last arrive).
        #expect(h.figures.evicted + h.figures.idle >= 300, "evicted \(h.figures.evicted), idle-closed \(h.figures.idle)")
        #expect(h.figures.idle >= 250, "idle-closed \(h.figures.idle)")
    }

    @Test func aFloodOfTenThousandConnectionsFromOneAddressIsRefusedAndCounted() throws {
        let h = try Harness()
        try h.publish(0..<500)
        // 32 connections hold the address's places (once tickd has them all: under a flood the
        // kernel's accept queue overflows, and a connection the client sees may reach tickd late)…
        let holders = (0..<32).compactMap { _ in try? LineSocket(port: h.port, from: "127.0.4.1") }
        #expect(eventually { h.metric("tickd_connections_open") == 32 })
        let admittedBefore = h.metric("tickd_connections_accepted_total")
        // …then 10,000 more connect and hang up.
        let flood = Self.flood("from one address", port: h.port, from: { _ in "127.0.4.1" }, holdFirst: 0)
        try h.publish(500..<2500)
        while !flood.isFinished { usleep(50_000) }
        let admitted = h.metric("tickd_connections_accepted_total") - admittedBefore
        try h.finish("10,000 connection attempts from one address", baseline: 0..<500, attacked: 500..<2500)
        // None of the flood got in (the honest publisher's one connection did); every one that
        // reached tickd was refused and counted (those the kernel dropped never reached it).
        #expect(admitted == 1, "admitted \(admitted)")
        #expect(h.figures.refused >= 5_000, "refused \(h.figures.refused)")
        withExtendedLifetime(holders) {}
    }

    @Test func aFloodOfTenThousandConnectionsFromManyAddressesEvictsOnlyTheMute() throws {
        let h = try Harness()
        try h.publish(0..<500)
        // All held open: once the listener is full, each one takes the place of the oldest mute one.
        let flood = Self.flood("from 200 addresses", port: h.port, from: { "127.0.\(5 + $0 / 5000).\(1 + $0 % 100)" }, holdFirst: 10_000)
        let attempts = try h.publish(500..<2500)
        while !flood.isFinished { usleep(50_000) }
        try h.finish("10,000 connection attempts from 200 addresses (honest publisher in at attempt \(attempts))", baseline: 0..<500, attacked: 500..<2500)
        // 50 attempts per address, but never 32 open at once from one: evicted, not refused.
        #expect(h.figures.evicted >= 9_000 && h.figures.refused == 0, "evicted \(h.figures.evicted), refused \(h.figures.refused)")
    }

    @Test func aHundredMegabyteLineIsRejectedWhileTheHonestPublisherGoesOn() throws {
        let h = try Harness()
        try h.publish(0..<500)
        let sender = try LineSocket(port: h.port, from: "127.0.7.1")
        #expect(sender.send(ReferenceFeed.header))
        let huge = Thread {
            let block = [UInt8](repeating: UInt8(ascii: "9"), count: 1 << 20)
            for _ in 0..<100 { _ = sender.sendSome(block) }
            sender.send("\n")
            sender.closeWrite()
        }
        huge.start()
        try h.publish(500..<2500)
        while !huge.isFinished { usleep(50_000) }
        try h.finish("one 100 MB line from another publisher", baseline: 0..<500, attacked: 500..<2500)
        let deadLetters = (try? String(contentsOfFile: h.db.config().deadLetterPath, encoding: .utf8)) ?? ""
        #expect(deadLetters.contains("\"reason\":\"line_too_long\""))
    }
}
