#if canImport(Glibc)
import Glibc
#endif

/// Peer addresses allowed to connect: single addresses or CIDR ranges, IPv4 or IPv6
/// (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`). An IPv4 peer seen as `::ffff:a.b.c.d` matches
/// its IPv4 entries.
public struct AddressAllowList: Sendable, Equatable {
    struct Range: Sendable, Equatable {
        let bytes: [UInt8]
        let prefix: Int
    }
    private let ranges: [Range]
    /// The entries as configured.
    public let entries: [String]

    /// Nil when an entry is not an address or CIDR range.
    public init?(_ entries: [String]) {
        var ranges: [Range] = []
        for entry in entries {
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = Self.parse(parts[0]) else { return nil }
            let width = bytes.count * 8
            var prefix = width
            if parts.count == 2 {
                guard let p = Int(parts[1]), (0...width).contains(p) else { return nil }
                prefix = p
            }
            ranges.append(Range(bytes: bytes, prefix: prefix))
        }
        self.ranges = ranges
        self.entries = entries
    }

    /// Whether `address` (textual IP) is allowed.
    public func allows(_ address: String) -> Bool {
        guard var bytes = Self.parse(address) else { return false }
        if bytes.count == 16 && bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            bytes = Array(bytes[12...])   // IPv4-mapped IPv6
        }
        return ranges.contains { range in
            guard range.bytes.count == bytes.count else { return false }
            var left = range.prefix
            for i in 0..<bytes.count where left > 0 {
                let bits = min(8, left)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if bytes[i] & mask != range.bytes[i] & mask { return false }
                left -= bits
            }
            return true
        }
    }

    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
