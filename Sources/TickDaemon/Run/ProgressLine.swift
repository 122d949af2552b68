import Foundation
import TickModel

/// The replay's progress on stderr — records, rate, feed time, ETA — redrawn in place twice a
/// second, only when stderr is a terminal (quiet under systemd, in pipes and in tests).
struct ProgressLine {
    private let enabled: Bool
    private let started = ContinuousClock.now
    private var lastDraw = ContinuousClock.now
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled && isatty(2) == 1 }

    mutating func update(records: Int, feedTime: Timestamp, bytesRead: Int, fileSize: Int?, label: String) {
        guard enabled, ContinuousClock.now - lastDraw >= .milliseconds(500) else { return }
        lastDraw = .now
        let elapsed = (ContinuousClock.now - started).seconds
        let rate = elapsed > 0 ? Double(records) / elapsed : 0
        var eta = "?"
        if let fileSize, bytesRead > 0, fileSize >= bytesRead {
            let left = elapsed * Double(fileSize - bytesRead) / Double(bytesRead)
            eta = String(format: "%d:%02d", Int(left) / 60, Int(left) % 60)
        }
        let line = String(format: "\r%@: %d records, %.0f/s, feed time %@, ETA %@\u{1B}[K",
                          label, records, rate, feedTime.rfc3339(fractionDigits: 0), eta)
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    mutating func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
