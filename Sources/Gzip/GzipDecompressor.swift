import CZlib

/// Streaming gzip decompression over zlib's inflate; handles concatenated members
/// (as `cat a.gz b.gz` produces). Owns its `z_stream` and ends it in `deinit`.
public final class GzipDecompressor {
    private let stream: UnsafeMutablePointer<z_stream>
    private var output: [UInt8]
    private var midMember = false

    public init(outputChunk: Int = 1 << 17) throws(GzipError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = [UInt8](repeating: 0, count: outputChunk)
        let rc = czlib_inflate_init2(stream, 15 + 16) // gzip header only
        if rc != Z_OK {
            stream.deallocate()
            throw GzipError(message: "inflateInit2 failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Decompresses `input`, calling `sink` with each piece of output (valid only during the call).
    public func feed(_ input: UnsafeRawBufferPointer,
                     _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        let capacity = output.count
        while stream.pointee.avail_in > 0 || midMember {
            let (rc, produced): (Int32, Int) = output.withUnsafeMutableBytes { out in
                stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(capacity)
                let rc = inflate(stream, Z_NO_FLUSH)
                return (rc, capacity - Int(stream.pointee.avail_out))
            }
            if produced > 0 { try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[..<produced])) } }
            switch rc {
            case Z_STREAM_END:
                midMember = false
                if stream.pointee.avail_in > 0 { inflateReset(stream) } // next member follows
            case Z_OK:
                midMember = true
                if stream.pointee.avail_in == 0 && produced < capacity { return }
            case Z_BUF_ERROR:
                return // needs more input
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "inflate error \(rc)"
                throw GzipError(message: message)
            }
        }
    }

    /// Throws when the input ended inside a gzip member (a truncated file).
    public func finish() throws(GzipError) {
        if midMember { throw GzipError(message: "truncated input: the last gzip member is incomplete") }
    }
}
