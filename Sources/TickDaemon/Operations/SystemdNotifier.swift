import Foundation
import Logging
import ServiceLifecycle
import TickEngine

/// sd_notify without libsystemd: datagrams to the socket named by `NOTIFY_SOCKET` (a path, or
/// `@name` for the abstract namespace). Nil when tickd is not run under a notify-type unit.
public struct SystemdNotifier: Sendable {
    public let socketPath: String
    /// Half the watchdog interval systemd asked for (`WATCHDOG_USEC`), when the watchdog is on
    /// for this process (`WATCHDOG_PID` absent or ours).
    public let watchdogInterval: Duration?

    public init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        socketPath = path
        if let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends `state` (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, `STATUS=…`); false when it failed.
    @discardableResult
    public func send(_ state: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }    // abstract namespace
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let payload = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sockaddr, length) }
            }
        }
        return sent == payload.count
    }
}

/// Tells systemd READY=1 once the database answers and the sources are open, pings WATCHDOG=1
/// while the ingest loop is alive, and says STOPPING=1 when shutdown begins. It is the last
/// service of the group, so it is the first to hear of a shutdown.
struct NotifyService: Service, CustomStringConvertible {
    let notifier: SystemdNotifier
    let readiness: Readiness
    let stats: DaemonStats
    let logger: Logger

    var description: String { "systemd notify" }

    func run() async throws {
        await withGracefulShutdownHandler {
            while !readiness.isReady {
                guard !Task.isShuttingDownGracefully, (try? await Task.sleep(for: .milliseconds(100))) != nil else { return }
            }
            notifier.send("READY=1\nSTATUS=ingesting")
            logger.notice("told systemd READY=1")
            guard let interval = notifier.watchdogInterval else {
                try? await gracefulShutdown()
                return
            }
            while !Task.isShuttingDownGracefully, (try? await Task.sleep(for: interval)) != nil {
                // Ping only while the ingest loop goes round (it wakes at least once a second).
                if ContinuousClock.now - stats.snapshot.heartbeat < max(interval * 2, .seconds(3)) {
                    notifier.send("WATCHDOG=1")
                }
            }
        } onGracefulShutdown: {
            notifier.send("STOPPING=1")
        }
    }
}
