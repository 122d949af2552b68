import Foundation

/// A plain TCP client socket for tests: a feed publisher (optionally from a chosen loopback
/// source address, such as 127.0.0.2, to act as another peer).
public final class LineSocket: @unchecked Sendable {
    public let fd: Int32

    /// `noDelay`: TCP_NODELAY, as a feed publisher that sends each tick as it happens should.
    public init(port: Int, host: String = "127.0.0.1", from source: String? = nil, sendTimeout: Duration? = nil,
                noDelay: Bool = false) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if noDelay {
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            _ = withIPv4Address(source, port: 0) { bind(fd, $0, $1) }
        }
        if let sendTimeout {
            var tv = timeval(tv_sec: Int(sendTimeout.components.seconds),
                             tv_usec: Int(sendTimeout.components.attoseconds / 1_000_000_000_000))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        let rc = withIPv4Address(host, port: port) { connect(fd, $0, $1) }
        guard rc == 0 else {
            close(fd)
            throw NSError(domain: "LineSocket", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "connect: \(String(cString: strerror(errno)))"])
        }
    }

    deinit { close(fd) }

    /// Writes all of `text`; false when the peer is gone.
    @discardableResult
    public func send(_ text: String) -> Bool { sendSome(Array(text.utf8)) == text.utf8.count }

    /// Writes as much of `bytes` as the socket takes before its send timeout; returns the count.
    public func sendSome(_ bytes: [UInt8]) -> Int {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return offset }
            offset += n
        }
        return offset
    }

    /// True when the peer closed the connection within `timeout` (read returns 0 or fails).
    public func peerCloses(within timeout: Duration) -> Bool {
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        let n = read(fd, &byte, 1)
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    public func closeWrite() { shutdown(fd, Int32(SHUT_WR)) }
}

/// A stand-in upstream feed: listens on a port, and for each connection reads the subscribe
/// line, sends the lines of the current session, and closes. Can stop and start again on the
/// same port (a feed server restart).
public final class FeedServerStub: @unchecked Sendable {
    public let port: Int
    private var listener: Int32 = -1
    private let lock = NSLock()
    private var sessions: [[String]]
    private var subscribeLines: [String] = []
    private var thread: Thread?

    /// `sessions[i]` is what the i-th connection gets.
    public init(sessions: [[String]]) throws {
        self.sessions = sessions
        port = try PrivateRedis.freePort()
        try start()
    }

    deinit { stop() }

    /// The subscribe lines received so far, one per connection.
    public var received: [String] { lock.withLock { subscribeLines } }

    public func start() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let rc = withIPv4Address("127.0.0.1", port: port) { bind(fd, $0, $1) }
        guard rc == 0, listen(fd, 8) == 0 else { close(fd); throw NSError(domain: "FeedServerStub", code: Int(errno)) }
        listener = fd
        let thread = Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var line: [UInt8] = []
                var byte: UInt8 = 0
                while read(client, &byte, 1) == 1, byte != 0x0A { line.append(byte) }
                let lines: [String] = lock.withLock {
                    subscribeLines.append(String(decoding: line, as: UTF8.self))
                    return sessions.isEmpty ? [] : sessions.removeFirst()
                }
                let payload = Array((lines.joined(separator: "\n") + "\n").utf8)
                _ = payload.withUnsafeBytes { send(client, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                shutdown(client, Int32(SHUT_WR))
                usleep(100_000)
                close(client)
            }
        }
        self.thread = thread
        thread.start()
    }

    /// Stops listening (connections are refused until `start`).
    public func stop() {
        if listener >= 0 {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
            listener = -1
        }
    }
}
