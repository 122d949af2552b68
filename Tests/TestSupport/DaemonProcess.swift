import Foundation

/// `tickd` running in the background for a test: logs to a file, signals, exit, memory.
public final class DaemonProcess: @unchecked Sendable {
    public let process = Process()
    public let logPath: String
    private let log: FileHandle

    public init(_ arguments: [String], environment: [String: String]) throws {
        logPath = TickdProcess.temporaryPath("daemon.log")
        FileManager.default.createFile(atPath: logPath, contents: nil)
        log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = TickdProcess.binary
        process.arguments = arguments
        process.currentDirectoryURL = TickdProcess.repositoryRoot
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "TICKD_CONFIG")
        // Each daemon its own journal, unless the test shares one between runs on purpose.
        env["TICKD_JOURNAL_DIRECTORY"] = TickdProcess.temporaryPath("journal")
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? log.close()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Everything logged so far.
    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until a log line contains `needle`; returns that line.
    public func waitForLine(containing needle: String, timeout: Duration = .seconds(30)) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = output.split(separator: "\n").first(where: { $0.contains(needle) }) { return String(line) }
            if !process.isRunning { return nil }
            usleep(20_000)
        }
        return nil
    }

    /// The port a `--listen HOST:0` listener got, from its log line.
    public func listeningPort(timeout: Duration = .seconds(60)) -> Int? {
        port(loggedWith: "listening for feed publishers", timeout: timeout)
    }

    /// The `port` field of the first log line containing `message` (logfmt or JSON).
    public func port(loggedWith message: String, timeout: Duration = .seconds(60)) -> Int? {
        guard let line = waitForLine(containing: message, timeout: timeout) else { return nil }
        for marker in ["port=", "\"port\":\""] {
            if let range = line.range(of: marker) { return Int(line[range.upperBound...].prefix { $0.isNumber }) }
        }
        return nil
    }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for exit; nil on timeout.
    public func waitForExit(timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        guard !process.isRunning else {
            // Whether the daemon is still alive or has exited unnoticed (state Z: a zombie that
            // Foundation's exit monitor has not reaped): a full suite once timed out here 0.3 s
            // after the daemon logged its last line.
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
                .split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? "gone"
            print("waitForExit: tickd pid \(pid) still running after \(timeout) by Foundation; /proc state \(state)")
            return nil
        }
        return process.terminationStatus
    }

    /// Resident memory (VmRSS) in bytes.
    public var residentBytes: Int? { processStatusBytes(pid: pid, "VmRSS:") }

    /// The peak of resident memory so far (VmHWM) in bytes.
    public var peakResidentBytes: Int? { processStatusBytes(pid: pid, "VmHWM:") }
}

/// A size field (`VmRSS:`, `VmHWM:`) of /proc/PID/status in bytes; nil when the process is gone.
public func processStatusBytes(pid: Int32, _ field: String) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
          let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
    return kb * 1024
}

/// Polls `condition` until it holds or `timeout` passes.
public func eventually(timeout: Duration = .seconds(30), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}
