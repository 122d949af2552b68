/// The parts of a `redis://[user:password@]host[:port][/db]` URL; `rediss://` is the same over TLS.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// `rediss://`: the connection is TLS (see `RedisTLS`).
    public var tls = false
    public var host: String
    public var port: Int
    public var database: Int
    public var user: String?
    public var password: String?

    public init(host: String = "127.0.0.1", port: Int = 6379, database: Int = 0,
                user: String? = nil, password: String? = nil) {
        self.host = host; self.port = port; self.database = database
        self.user = user; self.password = password
    }

    /// Parses a `redis://` or `rediss://` URL; percent-escapes in user and password are decoded.
    public init(parsing text: String) throws(RedisError) {
        let tls = text.hasPrefix("rediss://")
        guard tls || text.hasPrefix("redis://") else {
            throw RedisError(kind: .usage, message: "REDIS_URL must start with redis:// or rediss:// (TLS)")
        }
        var rest = Substring(text.dropFirst(tls ? "rediss://".count : "redis://".count))
        self.init()
        self.tls = tls
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                user.isEmpty ? () : (self.user = Self.percentDecoded(user))
                password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
            } else if !credentials.isEmpty {
                password = Self.percentDecoded(credentials)  // redis://secret@host form
            }
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let number = Int(db), number >= 0 else {
                    throw RedisError(kind: .usage, message: "REDIS_URL database must be a number, got '\(db)'")
                }
                database = number
            }
        }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                throw RedisError(kind: .usage, message: "REDIS_URL port must be 1-65535")
            }
            port = number
            authority = authority[..<colon]
        }
        if authority.hasPrefix("[") && authority.hasSuffix("]") { authority = authority.dropFirst().dropLast() }
        if !authority.isEmpty { host = String(authority) }
    }

    /// The URL with the password replaced by `***`, safe to log.
    public var description: String {
        let credentials: String
        switch (user, password) {
        case (nil, nil): credentials = ""
        case (let u?, nil): credentials = "\(u)@"
        case (let u, _?): credentials = "\(u ?? ""):***@"
        }
        return "\(tls ? "rediss" : "redis")://\(credentials)\(host):\(port)/\(database)"
    }

    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let h = iterator.next(), let l = iterator.next(),
               let value = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
