import Foundation
import TickNormalisation

/// `tickd redrive`: the raw lines of dead letters, chosen by reason, read again through the
/// normal replay path (after `tickd seed` lists an instrument, its `unknown_symbol` trades go in).
/// Lines are regrouped by their source and the CSV header they were sent under, one feed each,
/// so every line is read with the columns it had. Redriving the same dead letters twice stores
/// nothing twice: the lines make the same trade keys, and stored ticks are unchanged rows.
public enum Redrive {
    /// The lines of one source under one header, in the order they were rejected.
    public struct Feed: Equatable, Sendable {
        public var source: String
        public var header: String?
        public var lines: [[UInt8]]
    }

    /// What a dead-letter file holds for a redrive.
    public struct Plan: Equatable, Sendable {
        public var feeds: [Feed] = []
        /// Dead letters of other reasons, left alone.
        public var otherReasons = 0
        /// Over-long lines kept only in part: they cannot be read again.
        public var truncated = 0
        /// Lines that are not dead-letter records.
        public var unreadable = 0
    }

    /// Reads a dead-letter file's records, keeping those with a reason in `reasons` (every
    /// reason when empty).
    public static func plan(_ contents: Data, reasons: Set<String>) -> Plan {
        var plan = Plan()
        var index: [String: Int] = [:]
        for line in contents.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let source = object["source"] as? String, let reason = object["reason"] as? String,
                  let raw = object["raw"] as? String else { plan.unreadable += 1; continue }
            guard reasons.isEmpty || reasons.contains(reason) else { plan.otherReasons += 1; continue }
            if object["truncated"] as? Bool == true { plan.truncated += 1; continue }
            let bytes = (object["raw_hex"] as? String).flatMap(Self.bytes(hex:)) ?? Array(raw.utf8)
            let header = object["header"] as? String
            let key = source + "\u{0}" + (header ?? "\u{1}")
            if let at = index[key] {
                plan.feeds[at].lines.append(bytes)
            } else {
                index[key] = plan.feeds.count
                plan.feeds.append(Feed(source: source, header: header, lines: [bytes]))
            }
        }
        return plan
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }

    /// Writes each feed of `plan` to a file in `directory` (header first) and returns the paths.
    public static func write(_ plan: Plan, into directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try plan.feeds.enumerated().map { number, feed in
            let name = feed.source.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }.suffix(60)
            let path = "\(directory)/redrive-\(number)-\(String(name))"
            var data = Data()
            if let header = feed.header { data.append(contentsOf: Array(header.utf8) + [UInt8(ascii: "\n")]) }
            for line in feed.lines { data.append(contentsOf: line + [UInt8(ascii: "\n")]) }
            try data.write(to: URL(fileURLWithPath: path))
            return path
        }
    }
}
