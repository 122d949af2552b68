import Foundation
import Testing
import TestSupport

/// tickd's one concurrency model, as a check on the sources (docs/decisions.md, "One primitive for
/// blocking work"): no hand-made thread, lock, condition variable, semaphore, queue or sleep
/// anywhere, the `Blocking` module included (its threads are SwiftNIO's event loops);
/// `@unchecked Sendable` only in the wrappers of C libraries.
@Suite struct ConcurrencyRulesTests {
    /// What no source may use.
    static let primitives = ["NSCondition", "NSLock", "NSRecursiveLock", "DispatchQueue", "DispatchSemaphore", "DispatchGroup",
                             "Thread.sleep", "Thread {", "Thread(", "detachNewThread", "NIOThreadPool", "usleep(", "pthread_create",
                             "pthread_cond", "nanosleep("]
    /// Modules that wrap a C library's handles: they may vouch for a handle's thread safety.
    static let cWrappers = ["Hiredis", "LibPQ", "Kafka", "Zstd", "Gzip"]
    /// A load generator and stopwatch, not part of the daemon: pacing and polling are its job.
    static let exempt = ["tickd-bench"]

    static func sources() throws -> [(module: String, path: String, lines: [Substring])] {
        let root = TickdProcess.repositoryRoot.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        return try files.sorted().map { path in
            let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
            // Comments may name what the code does not use.
            let code = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
            return (String(path.split(separator: "/")[0]), path, code)
        }
    }

    /// The primitives `line` uses.
    static func primitives(in line: Substring) -> [String] { primitives.filter { line.contains($0) } }

    @Test func noThreadLockConditionOrSleepOfItsOwn() throws {
        let sources = try Self.sources()
        #expect(sources.count > 50, "the sources were found")
        #expect(sources.contains { $0.module == "Blocking" }, "the primitive's own module is checked too")
        var found: [String] = []
        for file in sources where !Self.exempt.contains(file.module) {
            for (number, line) in file.lines.enumerated() {
                for primitive in Self.primitives(in: line) { found.append("\(file.path):\(number + 1): \(primitive)") }
            }
        }
        #expect(found.isEmpty, "\(found.joined(separator: "; "))")
        // The check finds what it looks for.
        #expect(Self.primitives(in: "let t = Thread { work() }") == ["Thread {"])
        #expect(Self.primitives(in: "    Thread.sleep(forTimeInterval: 1)") == ["Thread.sleep"])
        #expect(Self.primitives(in: "private let condition = NSCondition()") == ["NSCondition"])
    }

    @Test func uncheckedSendableOnlyInTheCWrappers() throws {
        var found: [String] = []
        for file in try Self.sources() where !Self.cWrappers.contains(file.module) && !Self.exempt.contains(file.module) {
            for (number, line) in file.lines.enumerated() where line.contains("@unchecked Sendable") {
                found.append("\(file.path):\(number + 1)")
            }
        }
        #expect(found.isEmpty, "@unchecked Sendable outside the C wrappers: \(found.joined(separator: "; "))")
    }
}
