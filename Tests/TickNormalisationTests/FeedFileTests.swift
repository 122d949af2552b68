import Foundation
import Gzip
import Testing
import TickNormalisation
import TickSinks
import TickSources
import Zstd

@Suite struct FeedFileTests {
    static let text = Array((0..<20_000).map { "2026-01-05T06:00:00Z,SCOM,23.\($0 % 100),\($0)\n" }.joined().utf8)

    static func temporary(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tickd-\(UUID().uuidString)-\(name)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func readAll(_ path: String, chunk: Int) throws -> ([UInt8], Compression) {
        var out: [UInt8] = []
        let compression = try FeedFile(path: path, chunkSize: chunk).read { out.append(contentsOf: $0) }
        return (out, compression)
    }

    @Test(arguments: [1 << 18, 333])
    func readsPlainGzipAndZstdByContentNotName(chunk: Int) throws {
        let plain = try Self.temporary("feed.csv", Self.text)
        let gz = try Self.temporary("feed.data", try Gzip.compress(Self.text))
        let zst = try Self.temporary("feed.bin", try Zstd.compress(Self.text))
        defer { [plain, gz, zst].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        #expect(try Self.readAll(plain, chunk: chunk) == (Self.text, .none))
        #expect(try Self.readAll(gz, chunk: chunk) == (Self.text, .gzip))
        #expect(try Self.readAll(zst, chunk: chunk) == (Self.text, .zstd))
    }

    @Test func truncatedCompressedFilesAreErrors() throws {
        let gz = try Self.temporary("cut.gz", Array(try Gzip.compress(Self.text).dropLast(100)))
        let zst = try Self.temporary("cut.zst", Array(try Zstd.compress(Self.text).dropLast(100)))
        defer { [gz, zst].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        #expect(throws: (any Error).self) { _ = try Self.readAll(gz, chunk: 4096) }
        #expect(throws: (any Error).self) { _ = try Self.readAll(zst, chunk: 4096) }
        #expect(throws: FeedFileError.self) { _ = try Self.readAll("/nonexistent/feed.csv", chunk: 4096) }
    }

    @Test func deadLetterRecordsAreJSONLines() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tickd-dl-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try DeadLetterFile(path: path)
        let good = Array("t,\"SC\"OM,1\t2".utf8), bad: [UInt8] = [0x41, 0xFF, 0x42]
        good.withUnsafeBufferPointer { try? file.record(source: "a.csv", line: 3, reject: Reject(.malformedCSV, "why \"x\""), raw: $0) }
        bad.withUnsafeBufferPointer { try? file.record(source: "b.csv", line: 4, reject: Reject(.invalidUTF8, "bad"), raw: $0) }
        good.withUnsafeBufferPointer { try? file.record(source: "c", line: 5, reject: Reject(.lineTooLong, "long"), raw: $0, length: 99_999) }
        try file.flush()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(objects[0]["source"] as? String == "a.csv")
        #expect(objects[0]["line"] as? Int == 3)
        #expect(objects[0]["reason"] as? String == "malformed_csv")
        #expect(objects[0]["raw"] as? String == "t,\"SC\"OM,1\t2")
        #expect(objects[1]["raw_hex"] as? String == "41ff42")
        #expect(objects[2]["truncated"] as? Bool == true)
        #expect(objects[2]["length"] as? Int == 99_999)
    }
}
