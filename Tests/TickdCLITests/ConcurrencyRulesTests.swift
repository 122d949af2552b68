import Foundation
import Testing
import TestSupport

/// tickd's one concurrency model, as a check on the sources (docs/decisions.md, "One primitive for
/// blocking work"): threads, condition variables, blocking waits and sleeps live only in the
/// `Blocking` module; `@unchecked Sendable` only there and in the wrappers of C libraries.
@Suite struct ConcurrencyRulesTests {
    /// What only `Sources/Blocking` may use.
    static let primitives = ["NSCondition", "NSLock", "NSRecursiveLock", "DispatchQueue", "DispatchSemaphore", "DispatchGroup",
                             "Thread.sleep", "Thread {", "Thread(", "detachNewThread", "NIOThreadPool", "usleep(", "pthread_create",
                             "pthread_cond", "nanosleep("]
    /// Modules that wrap a C library's handles: they may vouch for a handle's thread safety.
    static let cWrappers = ["Blocking", "Hiredis", "LibPQ", "Kafka", "Zstd", "Gzip"]
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

    @Test func threadsLocksAndSleepsLiveOnlyInTheBlockingModule() throws {
        let sources = try Self.sources()
        #expect(sources.count > 50, "the sources were found")
        var found: [String] = []
        for file in sources where file.module != "Blocking" && !Self.exempt.contains(file.module) {
            for (number, line) in file.lines.enumerated() {
                for primitive in Self.primitives where line.contains(primitive) {
                    found.append("\(file.path):\(number + 1): \(primitive)")
                }
            }
        }
        #expect(found.isEmpty, "outside Sources/Blocking: \(found.joined(separator: "; "))")
        let blocking = sources.filter { $0.module == "Blocking" }.flatMap(\.lines)
        #expect(blocking.contains { $0.contains("NSCondition") }, "the check looks for what the primitive does use")
    }

    @Test func uncheckedSendableOnlyInTheBlockingModuleAndTheCWrappers() throws {
        var found: [String] = []
        for file in try Self.sources() where !Self.cWrappers.contains(file.module) && !Self.exempt.contains(file.module) {
            for (number, line) in file.lines.enumerated() where line.contains("@unchecked Sendable") {
                found.append("\(file.path):\(number + 1)")
            }
        }
        #expect(found.isEmpty, "@unchecked Sendable outside the C wrappers: \(found.joined(separator: "; "))")
    }
}
