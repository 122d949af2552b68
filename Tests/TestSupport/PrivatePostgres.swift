import Foundation

/// A PostgreSQL server owned by one test (initdb in a temporary folder, a free loopback port,
/// trust authentication), so the test can stop and start it. Runs as the `postgres` user when
/// the tests run as root, as PostgreSQL requires.
public final class PrivatePostgres: @unchecked Sendable {
    public let port: Int
    public let directory: String
    /// More server settings for the next `start()` (`-c name=value …`).
    public var settings: String
    static let bin = "/usr/lib/postgresql/15/bin"

    /// Whether TimescaleDB is built and installed into this machine's PostgreSQL.
    public static let timescaleInstalled = FileManager.default.fileExists(atPath: "/usr/lib/postgresql/15/lib/timescaledb.so")
    /// The settings that load TimescaleDB.
    public static let preloadTimescale = "-c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off"

    public init(settings: String = "") throws {
        self.settings = settings
        port = try PrivateRedis.freePort()
        directory = "/tmp/tickd-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try Self.run(["/bin/chown", "postgres:postgres", directory]) }
        try asPostgres(["\(Self.bin)/initdb", "-D", "\(directory)/data", "-A", "trust", "-U", "postgres", "-E", "UTF8",
                        "--locale=C.UTF-8"])
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A libpq URL for the superuser's database.
    public var url: String { "postgresql://postgres@127.0.0.1:\(port)/postgres?sslmode=disable" }

    public func start() throws {
        try asPostgres(["\(Self.bin)/pg_ctl", "-D", "\(directory)/data", "-l", "\(directory)/log", "-w", "-t", "60", "start",
                        "-o", "-c listen_addresses=127.0.0.1 -c port=\(port) -k \(directory) -c fsync=off \(settings)"])
    }

    /// Stops the server cleanly (`-m fast`), as before a configuration change.
    public func stopCleanly() throws {
        try asPostgres(["\(Self.bin)/pg_ctl", "-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
    }

    /// Stops the server at once (`-m immediate`: like a crash or a pulled plug).
    public func stop() {
        try? asPostgres(["\(Self.bin)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
    }

    private func asPostgres(_ command: [String]) throws {
        try Self.run(getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + command : command)
    }

    /// Runs a command and waits for it alone (posix_spawn + waitpid: Foundation's Process would
    /// also wait for the server pg_ctl leaves running, which keeps an inherited descriptor).
    static func run(_ command: [String]) throws {
        let exitCode = try spawn(command)
        guard exitCode == 0 else {
            throw NSError(domain: "PrivatePostgres", code: Int(exitCode),
                          userInfo: [NSLocalizedDescriptionKey: "\(command.joined(separator: " ")) exited \(exitCode)"])
        }
    }
}

extension PrivatePostgres {
    /// Runs a command with stdin from `stdin` and stdout and stderr to `output` (else
    /// /dev/null), and waits for it alone; returns its exit status (128 + n for signal n).
    static func spawn(_ command: [String], stdin: String = "/dev/null", output: String = "/dev/null") throws -> Int32 {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
        guard rc == 0 else { throw NSError(domain: "PrivatePostgres", code: Int(rc)) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}

/// A Unix datagram socket standing in for systemd's notify socket.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let fd: Int32

    public init() throws {
        path = "/tmp/tickd-notify-\(UUID().uuidString.prefix(8)).sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw NSError(domain: "NotifySocket", code: Int(errno)) }
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Waits for a datagram containing `state` (e.g. "READY=1"); returns every datagram seen.
    public func wait(for state: String, timeout: Duration) -> [String] {
        var seen: [String] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                let message = String(decoding: buffer[..<n], as: UTF8.self)
                seen.append(message)
                if message.split(separator: "\n").contains(where: { $0 == state }) { return seen }
            }
        }
        return seen
    }
}

/// GET a URL's body and status over plain HTTP/1.0 (loopback only).
public func httpGet(port: Int, path: String) -> (status: Int, body: String)? {
    guard let socket = try? LineSocket(port: port) else { return nil }
    socket.send("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(socket.fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        data.append(contentsOf: buffer[..<n])
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first, let code = Int(statusLine.split(separator: " ").dropFirst().first ?? ""),
          let split = text.range(of: "\r\n\r\n") else { return nil }
    return (code, String(text[split.upperBound...]))
}
