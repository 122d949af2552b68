import Blocking
import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a `rediss://` connection verifies the server and, optionally, presents a client
/// certificate. The server's certificate is always verified: against `caFile` when given, else
/// the system's trust store; its name (or IP address) must be the URL's host.
public struct RedisTLS: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }
}

/// TLS to Redis for a hiredis without TLS (Debian's 0.14): the TLS session runs on the system's
/// OpenSSL, on a thread of its own (a `BlockingExecutor`), and hiredis speaks plain RESP to the other end of a Unix
/// socketpair (`appSocket`, handed to `redisConnectFd`). The handshake, certificate and name
/// checks happen before the bridge exists, so a connection that fails them fails to open. The
/// bridge ends when either side closes: hiredis freeing its context closes `appSocket`.
final class TLSBridge: @unchecked Sendable {
    /// The socket hiredis owns.
    let appSocket: Int32
    private let bridgeSocket: Int32
    private let tcp: Int32
    private let ssl: OpaquePointer
    private let context: OpaquePointer

    /// OpenSSL writes to the TCP socket with write(2): a server that went away must be an error
    /// for the session, not a SIGPIPE that ends the process.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    init(host: String, port: Int, tls: RedisTLS, timeout: Duration) throws(RedisError) {
        Self.ignoreBrokenPipes
        let tcp = try Self.connectTCP(host: host, port: port, timeout: timeout)
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(tcp, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(tcp, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            close(tcp)
            throw Self.tlsError("cannot create a TLS context")
        }
        var ssl: OpaquePointer?
        do throws(RedisError) {
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            // A non-blocking SSL_write may take part of a buffer, and be retried from where it stopped.
            _ = tickd_ssl_ctx_set_mode(context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
            let trusted = tls.caFile.map { SSL_CTX_load_verify_locations(context, $0, nil) } ?? SSL_CTX_set_default_verify_paths(context)
            guard trusted == 1 else { throw Self.tlsError("cannot load the CA certificates \(tls.caFile ?? "of the system")") }
            if let certFile = tls.certFile {
                guard SSL_CTX_use_certificate_chain_file(context, certFile) == 1,
                      SSL_CTX_use_PrivateKey_file(context, tls.keyFile ?? certFile, SSL_FILETYPE_PEM) == 1 else {
                    throw Self.tlsError("cannot load the client certificate \(certFile)")
                }
            }
            guard let session = SSL_new(context) else { throw Self.tlsError("cannot create a TLS session") }
            ssl = session
            // The server's name is checked against its certificate: a DNS name or an IP address.
            let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { UInt8($0) != nil }
            if isAddress {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(session), host)
            } else {
                _ = tickd_ssl_set_server_name(session, host)
                SSL_set1_host(session, host)
            }
            SSL_set_fd(session, tcp)
            guard SSL_connect(session) == 1 else {
                let verify = SSL_get_verify_result(session)
                let reason = verify != X509_V_OK ? "certificate verify failed: \(String(cString: X509_verify_cert_error_string(verify)))"
                                                 : Self.openSSLError()
                throw RedisError(kind: .io, message: "TLS handshake with \(host):\(port) failed: \(reason)")
            }
        } catch {
            if let ssl { SSL_free(ssl) }
            SSL_CTX_free(context)
            close(tcp)
            throw error
        }
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            SSL_free(ssl)
            SSL_CTX_free(context)
            close(tcp)
            throw RedisError(kind: .io, message: "socketpair: \(String(cString: strerror(errno)))")
        }
        self.tcp = tcp
        self.ssl = ssl!
        self.context = context
        appSocket = pair[0]
        bridgeSocket = pair[1]
        // From here the pump waits in poll(2), never in a read or a write.
        _ = fcntl(tcp, F_SETFL, fcntl(tcp, F_GETFL) | O_NONBLOCK)
        _ = fcntl(bridgeSocket, F_SETFL, fcntl(bridgeSocket, F_GETFL) | O_NONBLOCK)
        // The pump is one long job on an executor of its own, which ends with it.
        let pumping = BlockingExecutor(name: "tickd-redis-tls")
        pumping.execute { [self] in
            pump()
            pumping.shutdown()
        }
    }

    /// Moves bytes both ways until either side closes, then frees the session. Both sockets are
    /// non-blocking: each pass moves whatever can move (OpenSSL may need to read in order to
    /// write, or hold decrypted bytes the socket no longer shows), and only when nothing moves
    /// does the thread sleep in poll(2), on exactly what the stalled steps wait for. One buffer
    /// per direction, read again only once written out, keeps a slow reader's backpressure.
    private func pump() {
        var up = Chunk(), down = Chunk()
        var tcpHungUp = false
        run: while true {
            var tcpEvents: Int16 = 0
            var progressed = true
            while progressed {
                progressed = false
                tcpEvents = 0
                if up.isEmpty {
                    let n = up.fill { read(bridgeSocket, $0, $1) }
                    if n > 0 { progressed = true } else if n == 0 || !Self.wouldBlock() { break run }
                }
                if !up.isEmpty {
                    let n = up.drain { SSL_write(ssl, $0, Int32($1)) }
                    if n > 0 { progressed = true } else if let wait = waitFor(n) { tcpEvents |= wait } else { break run }
                }
                if down.isEmpty {
                    let n = down.fill { SSL_read(ssl, $0, Int32($1)) }
                    if n > 0 { progressed = true } else if let wait = waitFor(n) { tcpEvents |= wait } else { break run }
                }
                if !down.isEmpty {
                    let n = down.drain { send(bridgeSocket, $0, $1, Int32(MSG_NOSIGNAL)) }
                    if n > 0 { progressed = true } else if !Self.wouldBlock() { break run }
                }
            }
            var fds = [pollfd(fd: bridgeSocket, events: (up.isEmpty ? Int16(POLLIN) : 0) | (down.isEmpty ? 0 : Int16(POLLOUT)), revents: 0),
                       pollfd(fd: tcpHungUp ? -1 : tcp, events: tcpEvents, revents: 0)]
            if poll(&fds, 2, -1) < 0 && errno != EINTR { break }
            // A closed connection shows as POLLHUP whatever was asked; the next SSL_read finds it.
            if fds[1].revents & Int16(POLLHUP | POLLERR) != 0 && tcpEvents & Int16(POLLIN) == 0 { tcpHungUp = true }
            if fds[1].revents & Int16(POLLNVAL) != 0 || fds[0].revents & Int16(POLLNVAL) != 0 { break }
        }
        SSL_shutdown(ssl)
        SSL_free(ssl)
        SSL_CTX_free(context)
        close(tcp)
        close(bridgeSocket)
    }

    /// What an SSL_read or SSL_write that moved nothing waits for on the TCP socket, or nil when
    /// the session is over (closed by the server, or failed).
    private func waitFor(_ result: Int) -> Int16? {
        switch SSL_get_error(ssl, Int32(result)) {
        case SSL_ERROR_WANT_READ: return Int16(POLLIN)
        case SSL_ERROR_WANT_WRITE: return Int16(POLLOUT)
        default: return nil
        }
    }

    private static func wouldBlock() -> Bool { errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }

    /// Bytes read from one side and not yet written to the other.
    private struct Chunk {
        private var bytes = [UInt8](repeating: 0, count: 16 << 10)
        private var start = 0, end = 0
        var isEmpty: Bool { start == end }

        /// Reads into the empty buffer; returns what `body` returned.
        mutating func fill<R: BinaryInteger>(_ body: (UnsafeMutableRawPointer, Int) -> R) -> Int {
            let n = Int(bytes.withUnsafeMutableBytes { body($0.baseAddress!, $0.count) })
            (start, end) = (0, max(n, 0))
            return n
        }

        /// Writes out what is left; returns what `body` returned.
        mutating func drain<R: BinaryInteger>(_ body: (UnsafeRawPointer, Int) -> R) -> Int {
            let (from, count) = (start, end - start)
            let n = Int(bytes.withUnsafeBytes { body($0.baseAddress! + from, count) })
            if n > 0 { start += n }
            return n
        }
    }

    private static func connectTCP(host: String, port: Int, timeout: Duration) throws(RedisError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let first = found else {
            throw RedisError(kind: .io, message: "connect \(host):\(port): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(found) }
        var failure = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            // Non-blocking connect bounded by the timeout, then blocking again.
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen)
            if result != 0 && errno == EINPROGRESS {
                var pending = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&pending, 1, Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)) == 1 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    result = error == 0 ? 0 : -1
                    errno = error
                } else {
                    errno = ETIMEDOUT
                }
            }
            if result == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                return fd
            }
            failure = String(cString: strerror(errno))
            close(fd)
        }
        throw RedisError(kind: .io, message: "connect \(host):\(port): \(failure)")
    }

    private static func openSSLError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "the connection was closed" }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func tlsError(_ what: String) -> RedisError {
        RedisError(kind: .io, message: "\(what): \(openSSLError())")
    }
}
