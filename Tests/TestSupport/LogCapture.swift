import Foundation
import Logging

/// Collects log records in memory, for tests that check what tickd logged.
public final class LogCapture: @unchecked Sendable {
    public struct Record: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]

        /// The message and its metadata as one line, as a log handler would print it.
        public var line: String {
            ([message] + metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }).joined(separator: " ")
        }
    }

    private let lock = NSLock()
    private var stored: [Record] = []

    public init() {}

    public var records: [Record] { lock.withLock { stored } }

    /// A logger whose records land here.
    public func logger(_ label: String) -> Logger {
        Logger(label: label) { _ in Handler(capture: self) }
    }

    func append(_ record: Record) { lock.withLock { stored.append(record) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            let merged = self.metadata.merging(metadata ?? [:]) { _, new in new }
            capture.append(Record(level: level, message: message.description, metadata: merged.mapValues { "\($0)" }))
        }
    }
}
