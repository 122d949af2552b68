import Foundation

/// A redis-server process owned by one test, on a free loopback port, so the test can stop,
/// pause and restart it without touching the shared server.
public final class PrivateRedis: @unchecked Sendable {
    public let port: Int
    /// The TLS port, when started with certificates.
    public let tlsPort: Int?
    private let tls: (certificates: TestCertificates, clientCertificates: Bool)?
    private var process: Process?
    private let directory: String

    /// With `tls`, the server also listens with TLS on `tlsPort` (its certificate from the test
    /// CA), asking clients for a certificate when `clientCertificates`.
    public init(tls: TestCertificates? = nil, clientCertificates: Bool = false) throws {
        port = try Self.freePort()
        var other = try Self.freePort()
        while other == port { other = try Self.freePort() }
        tlsPort = tls == nil ? nil : other
        self.tls = tls.map { ($0, clientCertificates) }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tickd-redis-\(port)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try start()
    }

    deinit { stop() }

    /// `redis://127.0.0.1:<port>/0`.
    public var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server (again) on the same port and waits until it answers. With
    /// `requirePassword`, clients must AUTH with it (until `CONFIG SET requirepass ""`).
    public func start(requirePassword: String? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", directory, "--logfile", "\(directory)/redis.log"]
            + (requirePassword.map { ["--requirepass", $0] } ?? [])
            + (tls.map { tls in ["--tls-port", "\(tlsPort!)", "--tls-cert-file", tls.certificates.serverCert,
                                 "--tls-key-file", tls.certificates.serverKey, "--tls-ca-cert-file", tls.certificates.caFile,
                                 "--tls-auth-clients", tls.clientCertificates ? "yes" : "no"] } ?? [])
        try process.run()
        self.process = process
        // Until it answers, or exits (its log says why); a loaded machine may take seconds, so
        // the bound is far off (two seconds once made a busy run fail).
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline && process.isRunning {
            if Self.answers(port: port) { return }
            usleep(10_000)
        }
        let log = (try? String(contentsOfFile: "\(directory)/redis.log", encoding: .utf8))?.split(separator: "\n").suffix(3).joined(separator: " | ") ?? ""
        throw NSError(domain: "PrivateRedis", code: 1, userInfo: [NSLocalizedDescriptionKey: "redis-server did not start on \(port): \(log)"])
    }

    /// Stops the server (SIGKILL: an outage, not a tidy shutdown) and waits for it to exit.
    public func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGCONT)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing is answered.
    public func pause() { if let process { kill(process.processIdentifier, SIGSTOP) } }

    /// Thaws a paused server (SIGCONT).
    public func resume() { if let process { kill(process.processIdentifier, SIGCONT) } }

    static func answers(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        guard withIPv4Address("127.0.0.1", port: port, { connect(fd, $0, $1) }) == 0 else { return false }
        let ping = Array("PING\r\n".utf8)
        _ = ping.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 16) }
        // +PONG, or -NOAUTH from a server that wants a password: either way it answers.
        return n > 0 && (buffer[0] == UInt8(ascii: "+") || buffer[0] == UInt8(ascii: "-"))
    }

    /// A port nothing listens on, from the kernel (bind to port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw NSError(domain: "PrivateRedis", code: 2) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Calls `body` with an IPv4 socket address (`host`, `port`) as a `sockaddr` pointer and its length.
func withIPv4Address<R>(_ host: String, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr(host)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
