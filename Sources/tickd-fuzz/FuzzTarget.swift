#if canImport(Glibc)
import Glibc
#endif
import TickCodecs
import TickModel
import TickNormalisation

/// The parsers under a fuzzer: bytes → lines → CSV or NDJSON (auto, per line) → normalised ticks,
/// fed in two pieces split where the input says (so lines spanning reads are covered too).
/// Beyond "no crash", every accepted tick must be a well-formed bar.
enum FuzzTarget {
    struct Discard: RejectRecorder {
        func record(source: String, line: Int, reject: Reject, raw: UnsafeBufferPointer<UInt8>, length: Int?, header: [UInt8]?) throws {}
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        guard !input.isEmpty else { return }
        let split = Int(input[0]) * input.count / 256
        let symbols = SymbolRules(aliases: ["SAFARICOM": "SCOM"], unknownPolicy: .accept)
        let normaliser = Normaliser(symbols: symbols, now: Timestamp(secondsSinceEpoch: 1_767_592_800))
        var decoder = SourceDecoder(source: "fuzz",
                                    decoder: FeedDecoder(format: .auto, csv: CSVOptions(), normaliser: normaliser, maxLineBytes: 256),
                                    maxLineBytes: 256, rejects: Discard())
        let now = Timestamp(secondsSinceEpoch: 1_767_592_800)
        func check(_ tick: SourceTick) {
            let t = tick.keyed.tick
            precondition(t.volume >= 0, "negative volume accepted")
            precondition(!t.low.isNegative && !t.high.isNegative, "negative price accepted")
            precondition(!t.open.isLess(than: t.low) && !t.close.isLess(than: t.low), "low above open/close accepted")
            precondition(!t.high.isLess(than: t.open) && !t.high.isLess(than: t.close), "high below open/close accepted")
            precondition(tick.end > 0 && tick.end <= Int64(input.count), "line end outside the input")
        }
        try? decoder.decode(UnsafeRawBufferPointer(rebasing: input[..<split]), now: now, check)
        try? decoder.decode(UnsafeRawBufferPointer(rebasing: input[split...]), now: now, check)
        try? decoder.finish(check)
        precondition(decoder.counts.read == decoder.counts.accepted + decoder.counts.rejected, "counts out of step")
    }
}

#if FUZZING
/// libFuzzer's entry point (built by scripts/fuzz.sh with -sanitize=fuzzer,address).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM enters an executable target through `<target>_main`; hand over to libFuzzer's driver.
@_cdecl("tickd_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
#else
/// Without the fuzzer: runs the files given (a corpus, past crashes) through the same target.
@main struct CorpusRunner {
    static func main() {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let file = fopen(path, "rb") else { continue }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&buffer, 1, buffer.count, file)
                if n == 0 { break }
                bytes.append(contentsOf: buffer[..<n])
            }
            fclose(file)
            bytes.withUnsafeBytes { FuzzTarget.run($0) }
            count += 1
        }
        print("tickd-fuzz: ran \(count) inputs without a crash")
    }
}
#endif
