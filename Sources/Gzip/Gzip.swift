import CZlib

/// One-shot gzip helpers, for tools and tests.
public enum Gzip {
    /// Compresses `bytes` into one gzip member.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws(GzipError) -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { deflateEnd(stream); stream.deallocate() }
        guard czlib_deflate_init2(stream, level, 15 + 16) == Z_OK else { throw GzipError(message: "deflateInit2 failed") }
        var input = bytes
        let bound = Int(deflateBound(stream, uLong(bytes.count))) + 64
        var out = [UInt8](repeating: 0, count: bound)
        let rc: Int32 = input.withUnsafeMutableBytes { src in
            out.withUnsafeMutableBytes { dst in
                stream.pointee.next_in = src.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_in = uInt(src.count)
                stream.pointee.next_out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(dst.count)
                return deflate(stream, Z_FINISH)
            }
        }
        guard rc == Z_STREAM_END else { throw GzipError(message: "deflate failed (\(rc))") }
        out.removeSubrange(Int(stream.pointee.total_out)...)
        return out
    }

    /// Decompresses a whole gzip buffer.
    public static func decompress(_ bytes: [UInt8]) throws -> [UInt8] {
        let decompressor = try GzipDecompressor()
        var result: [UInt8] = []
        try bytes.withUnsafeBytes { try decompressor.feed($0) { result.append(contentsOf: $0) } }
        try decompressor.finish()
        return result
    }
}
