import CZstd

/// Streaming zstd decompression; owns a `ZSTD_DStream` and frees it in `deinit`.
/// Handles concatenated frames. Feed compressed chunks, receive decompressed chunks.
public final class ZstdDecompressor {
    private let stream: OpaquePointer
    private var output: [UInt8]
    private var midFrame = false

    public init(outputChunk: Int = 1 << 17) throws(ZstdError) {
        guard let stream = ZSTD_createDStream() else { throw ZstdError(message: "cannot allocate stream") }
        self.stream = stream
        output = [UInt8](repeating: 0, count: outputChunk)
        let rc = ZSTD_initDStream(stream)
        if ZSTD_isError(rc) != 0 { throw ZstdError(message: String(cString: ZSTD_getErrorName(rc))) }
    }

    deinit { ZSTD_freeDStream(stream) }

    /// Decompresses `input`, calling `sink` with each piece of output (valid only during the call).
    public func feed(_ input: UnsafeRawBufferPointer,
                     _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let capacity = output.count
        // Done when all input is consumed and the output buffer was not filled (nothing pending).
        let rc = try pumpZstd(input, output: &output, step: { ZSTD_decompressStream(stream, &$0, &$1) },
                              done: { _, input, produced in input.pos == input.size && produced < capacity }, sink: sink)
        midFrame = rc != 0
    }

    /// Throws when the input ended in the middle of a frame (a truncated file).
    public func finish() throws(ZstdError) {
        if midFrame { throw ZstdError(message: "truncated input: the last frame is incomplete") }
    }
}
