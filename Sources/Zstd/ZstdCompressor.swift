import CZstd

/// Streaming zstd compression into one frame; owns a `ZSTD_CCtx` and frees it in `deinit`.
/// Feed input pieces, receive compressed pieces: memory stays at the buffer sizes whatever the
/// input's size.
public final class ZstdCompressor {
    private let context: OpaquePointer
    private var output: [UInt8]

    public init(level: Int32 = 3, outputChunk: Int = 1 << 17) throws(ZstdError) {
        guard let context = ZSTD_createCCtx() else { throw ZstdError(message: "cannot allocate context") }
        self.context = context
        output = [UInt8](repeating: 0, count: max(outputChunk, Int(ZSTD_CStreamOutSize())))
        let rc = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        if ZSTD_isError(rc) != 0 { throw ZstdError(message: String(cString: ZSTD_getErrorName(rc))) }
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input`, calling `sink` with each piece of output (valid only during the call).
    public func feed(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try run(input, ZSTD_e_continue, sink)
    }

    /// Ends the frame, calling `sink` with the last pieces.
    public func finish(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), ZSTD_e_end, sink)
    }

    private func run(_ input: UnsafeRawBufferPointer, _ mode: ZSTD_EndDirective,
                     _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        // continue: done once the input is consumed; end: done once zstd has nothing left (rc 0).
        try pumpZstd(input, output: &output, step: { ZSTD_compressStream2(context, &$0, &$1, mode) },
                     done: { rc, input, _ in mode == ZSTD_e_end ? rc == 0 : input.pos == input.size }, sink: sink)
    }
}
