import CHiredis
#if canImport(Glibc)
import Glibc
#endif

/// One synchronous Redis connection over hiredis; owns its `redisContext*`.
///
/// Commands are sent as argv (every argument length-counted, never a format string built from
/// data). `append` + `readReply` pipeline many commands in one round trip. Calls block: keep
/// them off Swift's cooperative pool. Not thread-safe.
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    /// The TLS session of a `rediss://` connection (hiredis talks to its socketpair end).
    private let bridge: TLSBridge?

    /// Connects, then sends AUTH and SELECT as the URL asks. `timeout` bounds connect, reads and
    /// writes; `tls` says how a `rediss://` URL's server is verified.
    public init(url: RedisURL, timeout: Duration = .seconds(2), tls: RedisTLS = RedisTLS()) throws(RedisError) {
        let tv = Self.timeval(timeout)
        let bridge = url.tls ? try TLSBridge(host: url.host, port: url.port, tls: tls, timeout: timeout) : nil
        self.bridge = bridge
        let connected = bridge.map { redisConnectFd($0.appSocket) } ?? redisConnectWithTimeout(url.host, Int32(url.port), tv)
        guard let context = connected else {
            if let bridge { close(bridge.appSocket) }
            throw RedisError(kind: .io, message: "cannot allocate redis context")
        }
        self.context = context
        if context.pointee.err != 0 {
            let message = Self.errorText(context)
            // deinit runs redisFree
            throw RedisError(kind: .io, message: "connect \(url.host):\(url.port): \(message)")
        }
        _ = redisSetTimeout(context, tv)
        if let password = url.password {
            let argv = url.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            try expectOK(try command(argv), what: "AUTH")
        }
        if url.database != 0 {
            try expectOK(try command(["SELECT", String(url.database)]), what: "SELECT")
        }
    }

    deinit { redisFree(context) }

    /// Sends one command and waits for its reply. An error reply is returned as `.error`, not thrown;
    /// only I/O failures throw.
    public func command(_ argv: [String]) throws(RedisError) -> RedisReply {
        try append(argv)
        return try readReply()
    }

    /// Queues a command in the output buffer without waiting (pipelining).
    public func append(_ argv: [String]) throws(RedisError) {
        try append(argv.map { Array($0.utf8) })
    }

    /// Queues a command whose arguments are raw bytes.
    public func append(_ argv: [[UInt8]]) throws(RedisError) {
        let status = withArgv(argv) { pointers, lengths in
            redisAppendCommandArgv(context, Int32(argv.count), pointers, lengths)
        }
        if status != REDIS_OK { throw ioError("append") }
    }

    /// Queues commands already encoded (`RedisCommandBuffer`) without waiting; read one reply
    /// per command.
    public func append(encoded commands: RedisCommandBuffer) throws(RedisError) {
        guard commands.count > 0 else { return }
        let status = commands.bytes.withUnsafeBytes { raw in
            redisAppendFormattedCommand(context, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        if status != REDIS_OK { throw ioError("append") }
    }

    /// Flushes queued commands as needed and reads the next reply, copying it into Swift.
    public func readReply() throws(RedisError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil { throw ioError("read") }
        let reply = raw!.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.copy(reply.pointee)
    }

    /// Reads the next reply of a command whose answer only matters when it is an error (a
    /// publisher's PUBLISH, XADD, SET): nil, or the error's text. Copies nothing else.
    public func readError() throws(RedisError) -> String? {
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil { throw ioError("read") }
        let reply = raw!.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        guard reply.pointee.type == REDIS_REPLY_ERROR else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: reply.pointee.str, count: Int(reply.pointee.len)), as: UTF8.self)
    }

    private func expectOK(_ reply: RedisReply, what: String) throws(RedisError) {
        if case .error(let message) = reply { throw RedisError(kind: .reply, message: "\(what): \(message)") }
    }

    private func ioError(_ what: String) -> RedisError {
        RedisError(kind: .io, message: "\(what): \(Self.errorText(context))")
    }

    static func copy(_ reply: redisReply) -> RedisReply {
        switch reply.type {
        case REDIS_REPLY_STRING:
            return .string(Array(UnsafeRawBufferPointer(start: reply.str, count: Int(reply.len))))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: Int(reply.len)), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: Int(reply.len)), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(reply.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(reply.elements)).map { i in
                reply.element[i].map { copy($0.pointee) } ?? .null
            })
        default:
            return .null
        }
    }

    static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "error \(context.pointee.err)" : String(decoding: bytes, as: UTF8.self)
        }
    }

    static func timeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}

/// Calls `body` with argv pointers and byte lengths for hiredis; the bytes stay valid for the call.
private func withArgv<R>(_ argv: [[UInt8]],
                         _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
    let total = argv.reduce(0) { $0 + $1.count }
    let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
    defer { storage.deallocate() }
    var pointers = [UnsafePointer<CChar>?](repeating: nil, count: argv.count)
    var lengths = [Int](repeating: 0, count: argv.count)
    var offset = 0
    for (i, arg) in argv.enumerated() {
        arg.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { (storage + offset).update(from: base, count: src.count) }
        }
        pointers[i] = UnsafeRawPointer(storage + offset).assumingMemoryBound(to: CChar.self)
        lengths[i] = arg.count
        offset += arg.count
    }
    return pointers.withUnsafeMutableBufferPointer { p in
        lengths.withUnsafeBufferPointer { l in body(p.baseAddress!, l.baseAddress!) }
    }
}
