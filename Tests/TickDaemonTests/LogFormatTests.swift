import Foundation
import Logging
import Testing
import TickDaemon
import TickModel

@Suite struct LogFormatTests {
    static let time = Timestamp(secondsSinceEpoch: 1_767_592_800)

    @Test func logfmtQuotesWhatNeedsIt() {
        let line = LineLogHandler.render(format: .logfmt, time: Self.time, level: .warning, label: "tickd.tcp",
                                         message: "connection refused", metadata: ["peer": "10.0.0.1", "why": "a=b \"c\""])
        #expect(line == #"time=2026-01-05T06:00:00.000Z level=warning label=tickd.tcp msg="connection refused" peer=10.0.0.1 why="a=b \"c\"""#)
    }

    @Test func jsonIsOneObjectPerLine() throws {
        let line = LineLogHandler.render(format: .json, time: Self.time, level: .info, label: "tickd", message: "two\nlines",
                                         metadata: ["n": "1"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object == ["time": "2026-01-05T06:00:00.000Z", "level": "info", "label": "tickd", "msg": "two\nlines", "n": "1"])
        #expect(!line.contains("\n"))
    }
}
