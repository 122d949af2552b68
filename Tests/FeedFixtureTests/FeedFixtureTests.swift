import Foundation
import Testing
import TickCodecs
import TickDaemon
import TickModel
import TickNormalisation

/// Runs every folder under Fixtures/: `input.*` is decoded with the config in `options.yaml`
/// (if any) and must give exactly the lines of `expected.txt` — `ok <tick as CSV>` or
/// `reject <reason code>` per record. Each input is fed whole, byte by byte, and in odd chunks.
@Suite struct FeedFixtureTests {
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// The clock of every fixture: 2026-06-01T00:00:00Z.
    static let now = Timestamp(secondsSinceEpoch: 1_780_272_000)

    static var cases: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: fixtures.path).sorted()) ?? []
    }

    @Test func thereAreFixtures() {
        #expect(Self.cases.count >= 40)
    }

    @Test(arguments: cases)
    func fixture(_ name: String) throws {
        let folder = Self.fixtures.appendingPathComponent(name)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        let inputName = try #require(files.first { $0.hasPrefix("input.") }, "\(name) has no input file")
        let input = Array(try Data(contentsOf: folder.appendingPathComponent(inputName)))
        let expected = try String(contentsOf: folder.appendingPathComponent("expected.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)

        var config = TickdConfig()
        config.instrumentsFile = Self.repositoryRoot.appendingPathComponent("Seeds/stocks.csv").path
        let optionsURL = folder.appendingPathComponent("options.yaml")
        if let yaml = try? String(contentsOf: optionsURL, encoding: .utf8) {
            try ConfigLoader.apply(yaml: yaml, to: &config)
        }
        if inputName.hasSuffix(".csv") && config.format == .auto { config.format = .csv }
        if inputName.hasSuffix(".ndjson") && config.format == .auto { config.format = .ndjson }

        for chunkSize in [input.count, 1, 7] {
            let got = try Self.decode(input, config: config, chunkSize: max(chunkSize, 1))
            #expect(got == expected, "\(name), fed in chunks of \(chunkSize)")
        }
    }

    /// Frames, decodes and normalises `input`; returns one `ok …`/`reject …` line per record.
    static func decode(_ input: [UInt8], config: TickdConfig, chunkSize: Int) throws -> [String] {
        var decoder = config.makeFeedDecoder(normaliser: try config.makeNormaliser(now: now))
        var framer = LineFramer(maxLineBytes: config.maxLineBytes)
        var lines: [String] = []
        func handle(_ framed: FramedLine, _ number: Int) {
            switch framed {
            case .overLong:
                lines.append("reject \(RejectReason.lineTooLong.rawValue)")
            case .line(let line):
                switch decoder.decode(line) {
                case .tick(let tick):
                    var out: [UInt8] = []
                    TickEncoder.appendCSV(tick, to: &out)
                    lines.append("ok " + String(decoding: out.dropLast(), as: UTF8.self))
                case .reject(let reject):
                    lines.append("reject \(reject.reason.rawValue)")
                case .header, .blank:
                    break
                }
            }
        }
        var offset = 0
        while offset < input.count {
            let end = min(offset + chunkSize, input.count)
            input[offset..<end].withUnsafeBytes { framer.feed($0, handle) }
            offset = end
        }
        framer.finish(handle)
        return lines
    }
}
