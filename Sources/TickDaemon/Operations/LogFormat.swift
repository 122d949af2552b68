import Foundation
import Logging
import Synchronization
import TickModel

/// How log lines look: `logfmt` (`time=… level=info label=tickd.tcp msg="…" peer=…`) or `json`
/// (one object per line). Always on stderr; stdout is kept for reports and command results.
public enum LogFormat: String, Sendable, CaseIterable {
    case logfmt, json
}

/// Sets up swift-log once per process, from the configuration.
public enum LogSetup {
    private static let done = Mutex(false)

    /// Bootstraps swift-log with the chosen format and level (only the first call counts).
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        done.withLock { done in
            guard !done else { return }
            done = true
            let output = LineOutput.standardError
            LoggingSystem.bootstrap { label in
                var handler = LineLogHandler(label: label, format: format, output: output)
                handler.logLevel = level
                return handler
            }
        }
    }
}

/// Where formatted lines go; serialised so lines from several threads never interleave.
final class LineOutput: Sendable {
    static let standardError = LineOutput(fd: 2)
    private let fd: Int32
    private let lock = Mutex(())

    init(fd: Int32) { self.fd = fd }

    func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n <= 0 { break }
                offset += n
            }
        }
    }
}

/// A swift-log handler writing one logfmt or JSON line per record.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String
    let format: LogFormat
    let output: LineOutput

    init(label: String, format: LogFormat, output: LineOutput) {
        self.label = label
        self.format = format
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        let merged = self.metadata.merging(metadata ?? [:]) { _, new in new }
        output.write(Self.render(format: format, time: .now(), level: level, label: label, message: message.description,
                                 metadata: merged))
    }

    /// One formatted line (no newline).
    public static func render(format: LogFormat, time: Timestamp, level: Logger.Level, label: String, message: String,
                              metadata: Logger.Metadata) -> String {
        let stamp = time.rfc3339(fractionDigits: 3)
        let fields = metadata.keys.sorted().map { ($0, "\(metadata[$0]!)") }
        switch format {
        case .logfmt:
            let pairs = [("time", stamp), ("level", level.rawValue), ("label", label), ("msg", message)] + fields
            return pairs.map { "\($0.0)=\(logfmtValue($0.1))" }.joined(separator: " ")
        case .json:
            let pairs = [("time", stamp), ("level", level.rawValue), ("label", label), ("msg", message)] + fields
            return "{" + pairs.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
        }
    }

    static func logfmtValue(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0.value != 0x7F }
        return plain ? value : jsonString(value)
    }

    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

