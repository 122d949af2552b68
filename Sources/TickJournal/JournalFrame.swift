import CZlib

/// How records sit in a segment file: a 16-byte header — payload length (u32), CRC-32 of the
/// record number and payload (u32), record number (u64), little-endian — then the payload.
/// A frame that is short, fails its checksum or breaks the numbering marks a torn or corrupt
/// tail: everything from it on is cut.
enum JournalFrame {
    static let headerBytes = 16
    /// No record is larger (a chunk is at most a read buffer's worth of ticks).
    static let maxPayloadBytes = 64 << 20

    static func encode(lsn: UInt64, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerBytes + payload.count)
        JournalRecord.append(UInt32(payload.count), to: &out)
        JournalRecord.append(checksum(lsn: lsn, payload: payload), to: &out)
        JournalRecord.append(lsn, to: &out)
        out.append(contentsOf: payload)
        return out
    }

    static func checksum(lsn: UInt64, payload: UnsafeRawBufferPointer) -> UInt32 {
        var crc = withUnsafeBytes(of: lsn.littleEndian) { UInt32(crc32(0, $0.bindMemory(to: Bytef.self).baseAddress, 8)) }
        if let base = payload.baseAddress, payload.count > 0 {
            crc = UInt32(crc32(UInt(crc), base.assumingMemoryBound(to: Bytef.self), UInt32(payload.count)))
        }
        return crc
    }

    static func checksum(lsn: UInt64, payload: [UInt8]) -> UInt32 {
        payload.withUnsafeBytes { checksum(lsn: lsn, payload: $0) }
    }

    /// One frame found by `scan`.
    struct Found {
        let lsn: UInt64
        let payload: Range<Int>
        let end: Int
    }

    /// Why a scan stopped before the end of the bytes.
    enum Damage: Equatable, CustomStringConvertible {
        case shortHeader, shortPayload, badLength, badChecksum, outOfOrder(expected: UInt64, found: UInt64)

        var description: String {
            switch self {
            case .shortHeader: "a record header cut short"
            case .shortPayload: "a record cut short"
            case .badLength: "an impossible record length"
            case .badChecksum: "a record whose checksum does not match"
            case .outOfOrder(let expected, let found): "record \(found) where \(expected) was due"
            }
        }
    }

    /// Walks the frames of a segment whose first record is `firstLSN`; stops at the first damage.
    static func scan(_ bytes: UnsafeRawBufferPointer, firstLSN: UInt64, _ body: (Found) throws -> Void) rethrows -> (goodEnd: Int, damage: Damage?) {
        var offset = 0
        var expected = firstLSN
        while offset < bytes.count {
            guard bytes.count - offset >= headerBytes else { return (offset, .shortHeader) }
            let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            let crc = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            let lsn = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
            guard length <= maxPayloadBytes else { return (offset, .badLength) }
            let start = offset + headerBytes
            guard bytes.count - start >= length else { return (offset, .shortPayload) }
            guard checksum(lsn: lsn, payload: UnsafeRawBufferPointer(rebasing: bytes[start..<start + length])) == crc else {
                return (offset, .badChecksum)
            }
            guard lsn == expected else { return (offset, .outOfOrder(expected: expected, found: lsn)) }
            try body(Found(lsn: lsn, payload: start..<start + length, end: start + length))
            offset = start + length
            expected += 1
        }
        return (offset, nil)
    }
}
