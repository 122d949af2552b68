import CZstd

/// One-shot zstd helpers, for tools and tests.
public enum Zstd {
    /// Compresses `bytes` into one zstd frame.
    public static func compress(_ bytes: [UInt8], level: Int32 = 3) throws(ZstdError) -> [UInt8] {
        let bound = ZSTD_compressBound(bytes.count)
        var out = [UInt8](repeating: 0, count: bound)
        let rc = out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, level) }
        }
        if ZSTD_isError(rc) != 0 { throw ZstdError(message: String(cString: ZSTD_getErrorName(rc))) }
        out.removeSubrange(rc...)
        return out
    }

    /// Decompresses a whole buffer of one or more frames.
    public static func decompress(_ bytes: [UInt8]) throws -> [UInt8] {
        let decompressor = try ZstdDecompressor()
        var result: [UInt8] = []
        try bytes.withUnsafeBytes { try decompressor.feed($0) { result.append(contentsOf: $0) } }
        try decompressor.finish()
        return result
    }
}
