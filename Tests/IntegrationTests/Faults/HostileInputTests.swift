import Foundation
import Testing
import TestSupport

/// Bad input among good, an endless line, a full disk under the journal.
@Suite(.serialized, .ownThreads) struct HostileInputTests {
    /// Bad line `i` and the reason it must be rejected with.
    static func badLine(_ i: Int) -> (line: String, reason: String) {
        switch i % 10 {
        case 0: ("2026-13-45T06:00:00Z,SCOM,23.10,100,\(900_000 + i)\n", "bad_time")
        case 1: ("2026-01-05T06:00:00Z,NOPE,23.10,100,\(900_000 + i)\n", "unknown_symbol")
        case 2: ("2026-01-05T06:00:00Z,SCOM,-23.10,100,\(900_000 + i)\n", "negative_price")
        case 3: ("2026-01-05T06:00:00Z,\"SCOM,23.10,100,\(900_000 + i)\n", "malformed_csv")
        case 4: ("2026-01-05T06:00:00Z,SCOM,23.1O,100,\(900_000 + i)\n", "bad_number")
        case 5: ("2026-01-05T06:00:00Z,SC\u{7F}OM,23.10,100,\(900_000 + i)\n", "bad_symbol")
        case 6: ("2099-01-05T06:00:00Z,SCOM,23.10,100,\(900_000 + i)\n", "future_time")
        case 7: ("2026-01-05T06:00:00Z,SCOM,,100,\(900_000 + i)\n", "missing_field")
        case 8: ("{\"time\":\"2026-01-05T06:00:00Z\",\"symbol\":\"SCOM\",\"price\":\n", "malformed_json")
        default: ("2026-01-05T06:00:00Z,SCOM,NaN,100,\(900_000 + i)\n", "non_finite_price")
        }
    }

    @Test func tenThousandMalformedLinesAmongGoodOnesAreEachDeadLetteredWithTheirReason() throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let feed = ReferenceFeed(count: 20_000)
        var text = ReferenceFeed.header
        var expected: [Int: String] = [:]   // line number → reason
        var line = 1
        for i in 0..<feed.count {
            text += ReferenceFeed.line(i)
            line += 1
            if i % 2 == 0 {
                let bad = Self.badLine(i / 2)
                text += bad.line
                line += 1
                expected[line] = bad.reason
            }
        }
        #expect(expected.count == 10_000)
        let path = TickdProcess.temporaryPath("hostile.csv")
        let deadLetters = TickdProcess.temporaryPath("dead.jsonl")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let subscriber = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
        let run = try TickdProcess.run(["replay", path, "--config", try DaemonTests.configFile(db), "--dead-letter", deadLetters,
                                        "--report", "json"], environment: ["DATABASE_URL": db.url, "REDIS_URL": redisURL])
        #expect(run.status == 0, "\(run.stderr)")
        let verdict = try FaultVerdict.check(db, sent: feed.count, messages: try subscriber.finish())
        var found: [Int: String] = [:]
        for record in try String(contentsOfFile: deadLetters, encoding: .utf8).split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any])
            if let number = object["line"] as? Int, let reason = object["reason"] as? String { found[number] = reason }
        }
        let wrong = expected.filter { found[$0.key] != $0.value }
        FaultInjectionTests.report("10,000 malformed lines among 20,000 good (dead letters \(found.count), wrong reason or missing \(wrong.count))", verdict)
        #expect(verdict.passes, "\(verdict)")
        #expect(found.count == 10_000 && wrong.isEmpty, "\(wrong.prefix(5))")
    }

    @Test func aOneGibibyteLineWithoutNewlineKeepsMemoryBounded() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let deadLetters = TickdProcess.temporaryPath("dead.jsonl")
        let config = try DaemonTests.configFile(db, "dead_letter:\n  path: \(deadLetters)\n")
        let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url, "REDIS_URL": "", "TICKD_DEAD_LETTER_PATH": deadLetters])
        let port = try #require(daemon.listeningPort())
        let socket = try LineSocket(port: port)
        #expect(socket.send(ReferenceFeed.header + ReferenceFeed.line(0)))
        let block = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        var peak = 0
        for i in 0..<1024 {
            #expect(socket.sendSome(block) == block.count)
            if i % 64 == 0 { peak = max(peak, daemon.residentBytes ?? 0) }
        }
        #expect(socket.send("\n" + ReferenceFeed.line(1)))
        socket.closeWrite()
        #expect(daemon.waitForLine(containing: "publisher disconnected", timeout: .seconds(120)) != nil)
        #expect(eventually { (try? db.value("SELECT count(*) FROM market_ticks")) == "2" })
        peak = max(peak, daemon.peakResidentBytes ?? 0)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(60)) == 0)
        let record = try String(contentsOfFile: deadLetters, encoding: .utf8)
        print("fault 1 GiB line without newline: peak RSS \(peak >> 20) MiB, line_too_long dead-lettered: \(record.contains("\"length\":1073741824"))")
        #expect(record.contains("\"reason\":\"line_too_long\"") && record.contains("\"length\":1073741824"))
        #expect(peak < 200 << 20, "peak RSS \(peak >> 20) MiB")
    }

    @Test func aFullDiskUnderTheJournalPausesLiveFeedsAndLosesNothing() throws {
        let directory = TickdProcess.temporaryPath("tmpfs")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let mounted = (try? TickdProcess.runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", directory])) == 0
        guard mounted else {
            print("SKIP aFullDiskUnderTheJournalPausesLiveFeedsAndLosesNothing: cannot mount a small tmpfs here (needs root and mount permission)")
            return
        }
        defer { _ = try? TickdProcess.runTool("/bin/umount", ["-l", directory]) }
        let filler = "\(directory)/filler"
        // Leave less room than one journal segment: the active segment fills the disk.
        try Data(count: 200 << 10).write(to: URL(fileURLWithPath: filler))
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let feed = ReferenceFeed(count: 3000)
        let environment = ["DATABASE_URL": db.url, "REDIS_URL": "", "TICKD_JOURNAL_DIRECTORY": "\(directory)/journal",
                           "TICKD_JOURNAL_SEGMENT_BYTES": "65536", "TICKD_JOURNAL_MAX_BYTES": "1048576"]
        let config = try DaemonTests.configFile(db)
        do {
            let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"], environment: environment)
            let port = try #require(daemon.listeningPort())
            let publisher = try PacedPublisher(port: port, feed: feed, perTick: 300)
            let full = try #require(daemon.waitForLine(containing: "journal: disk full"), "\(daemon.output)")
            // What was journaled before the disk filled is stored; nothing read after it is, while it stays full.
            let journaled = try #require(full.firstMatch(of: /journaled_ticks\D+(\d+)/).flatMap { Int($0.1) }, "\(full)")
            #expect(journaled > 0 && journaled < feed.count, "\(full)")
            let stored = { Int((try? db.value("SELECT count(*) FROM market_ticks")) ?? "0") ?? 0 }
            #expect(eventually { stored() >= journaled })
            #expect(stored() == journaled, "nothing goes in while the journal cannot write")
            try FileManager.default.removeItem(atPath: filler)
            #expect(daemon.waitForLine(containing: "journal: writing again") != nil)
            #expect(publisher.done.wait(timeout: .now() + 60) == .success)
            #expect(eventually { (try? db.value("SELECT count(*) FROM market_ticks")) == String(feed.count) })
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit(timeout: .seconds(60)) == 0)
        }
        // The journal is whole: it opens again without a repair.
        let again = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"], environment: environment)
        #expect(again.waitForLine(containing: "journal open") != nil)
        #expect(again.listeningPort() != nil, "running (signal handlers installed) before SIGTERM")
        #expect(!again.output.contains("torn or corrupt"), "\(again.output)")
        again.signal(SIGTERM)
        #expect(again.waitForExit(timeout: .seconds(60)) == 0)
        let verdict = try FaultVerdict.check(db, sent: feed.count, messages: nil)
        FaultInjectionTests.report("journal disk full (paused, freed, resumed)", verdict)
        #expect(verdict.passes, "\(verdict)")
    }
}
