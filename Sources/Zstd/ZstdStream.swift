import CZstd

/// The loop both streaming directions share: call `step` (one `ZSTD_compressStream2` or
/// `ZSTD_decompressStream`) on `input` and the `output` buffer, hand each piece of output to
/// `sink`, and stop when `done` says so (given the step's return code, the input buffer and the
/// bytes produced). Returns the last return code.
@discardableResult
func pumpZstd(_ input: UnsafeRawBufferPointer, output: inout [UInt8],
              step: (inout ZSTD_outBuffer, inout ZSTD_inBuffer) -> Int,
              done: (_ rc: Int, _ input: ZSTD_inBuffer, _ produced: Int) -> Bool,
              sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
    var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
    let capacity = output.count
    while true {
        let (rc, produced): (Int, Int) = output.withUnsafeMutableBytes { out in
            var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: capacity, pos: 0)
            let rc = step(&outBuffer, &inBuffer)
            return (rc, outBuffer.pos)
        }
        if ZSTD_isError(rc) != 0 { throw ZstdError(message: String(cString: ZSTD_getErrorName(rc))) }
        if produced > 0 { try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[..<produced])) } }
        if done(rc, inBuffer, produced) { return rc }
    }
}
