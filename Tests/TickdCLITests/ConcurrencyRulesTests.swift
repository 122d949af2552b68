import Foundation
import Testing
import TestSupport

/// tickd's one concurrency model, as a check on the sources (docs/decisions.md, "One primitive for
/// blocking work"): no hand-made thread, lock, condition variable, semaphore or queue anywhere,
/// the `Blocking` module included (its threads are SwiftNIO's event loops); one blocking sleep,
/// the sink's retry pause, and only there; `@unchecked Sendable` only in the wrappers of C
/// libraries.
@Suite struct ConcurrencyRulesTests {
    /// What no source may use.
    static let primitives = ["NSCondition", "NSLock", "NSRecursiveLock", "DispatchQueue", "DispatchSemaphore", "DispatchGroup",
                             "Thread.sleep", "Thread {", "Thread(", "detachNewThread", "NIOThreadPool", "usleep(", "pthread_create",
                             "pthread_cond", "nanosleep("]
    /// The one blocking wait left: a retry's pause inside a database call that must not return
    /// before it succeeds, on the writer lane's own thread (`BlockingExecutor.pause`).
    static let allowed = ["Blocking/BlockingExecutor.swift: Thread.sleep"]
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

    @Test func noThreadLockConditionOrSleepOfItsOwn() throws {
        let sources = try Self.sources()
        #expect(sources.count > 50, "the sources were found")
        var found: [String] = []
        var allowedSeen: Set<String> = []
        for file in sources where !Self.exempt.contains(file.module) {
            for (number, line) in file.lines.enumerated() {
                for primitive in Self.primitives where line.contains(primitive) {
                    let use = "\(file.path): \(primitive)"
                    if Self.allowed.contains(use) { allowedSeen.insert(use) } else { found.append("\(file.path):\(number + 1): \(primitive)") }
                }
            }
        }
        #expect(found.isEmpty, "\(found.joined(separator: "; "))")
        #expect(allowedSeen == Set(Self.allowed), "the check looks for what the one exception does use")
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
