import TickModel
import TickNormalisation

/// The bytes of one journal record: a chunk of keyed ticks as a source accepted them (source
/// name, its last line, every tick with its storage key). Little-endian, versioned, exact:
/// prices travel as their integer units and scale, never as text or floats.
public enum JournalRecord {
    static let version: UInt8 = 1

    /// Encodes a chunk (its position and journal number are not part of the record).
    public static func encode(_ chunk: TickChunk) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + chunk.source.utf8.count + chunk.ticks.count * 80)
        out.append(version)
        appendString(chunk.source, to: &out, lengthBytes: 2)
        append(UInt64(chunk.throughLine), to: &out)
        append(UInt32(chunk.ticks.count), to: &out)
        for keyed in chunk.ticks {
            let tick = keyed.tick
            append(UInt64(bitPattern: tick.time.nanosecondsSinceEpoch), to: &out)
            appendString(tick.symbol.rawValue, to: &out, lengthBytes: 1)
            append(UInt64(bitPattern: keyed.tradeSeq), to: &out)
            // A status record has no volume: its status travels in the volume's place.
            append(UInt64(bitPattern: tick.action == .status ? Int64(tick.status?.rawValue ?? 0) : tick.volume), to: &out)
            for price in [tick.open, tick.high, tick.low, tick.close] {
                append(UInt64(bitPattern: price.units), to: &out)
                out.append(price.scale)
            }
            // Bit 0: a trade id follows; bits 1–2: the action (0, a trade, in records of every
            // release before actions existed).
            let flags = (tick.feedSequence == nil ? 0 : 1) | tick.action.rawValue << 1
            out.append(flags)
            if let sequence = tick.feedSequence { append(UInt64(bitPattern: sequence), to: &out) }
        }
        return out
    }

    /// Decodes a record; nil when the bytes are not a record of this version (a checksum already
    /// passed, so that means a bug or a future version, never a torn write).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> TickChunk? {
        var reader = ByteReader(bytes)
        guard reader.u8() == version, let source = reader.string(lengthBytes: 2), let line = reader.u64(),
              let count = reader.u32() else { return nil }
        var ticks: [KeyedTick] = []
        ticks.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let time = reader.u64(), let symbol = reader.string(lengthBytes: 1), let tradeSeq = reader.u64(),
                  let volume = reader.u64() else { return nil }
            var prices: [Price] = []
            for _ in 0..<4 {
                guard let units = reader.u64(), let scale = reader.u8(), scale <= Price.maxScale else { return nil }
                prices.append(Price(units: Int64(bitPattern: units), scale: scale))
            }
            guard let flags = reader.u8(), let action = TradeAction(rawValue: flags >> 1) else { return nil }
            var sequence: Int64?
            if flags & 1 == 1 {
                guard let value = reader.u64() else { return nil }
                sequence = Int64(bitPattern: value)
            }
            var status: TradingStatus?
            if action == .status {
                guard volume <= UInt64(UInt8.max), let named = TradingStatus(rawValue: UInt8(volume)) else { return nil }
                status = named
            }
            let tick = Tick(time: Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: time)), symbol: Symbol(symbol),
                            open: prices[0], high: prices[1], low: prices[2], close: prices[3],
                            volume: status == nil ? Int64(bitPattern: volume) : 0, feedSequence: sequence, action: action, status: status)
            ticks.append(KeyedTick(tick: tick, tradeSeq: Int64(bitPattern: tradeSeq)))
        }
        guard reader.atEnd else { return nil }
        return TickChunk(source: source, throughLine: Int(line), ticks: ticks)
    }

    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func appendString(_ text: String, to out: inout [UInt8], lengthBytes: Int) {
        let bytes = Array(text.utf8.prefix(lengthBytes == 1 ? 255 : 65535))
        if lengthBytes == 1 { out.append(UInt8(bytes.count)) } else { append(UInt16(bytes.count), to: &out) }
        out.append(contentsOf: bytes)
    }
}

/// Reads little-endian fields from a buffer, nil past its end.
struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    mutating func u8() -> UInt8? { fixed(UInt8.self) }
    mutating func u32() -> UInt32? { fixed(UInt32.self) }
    mutating func u64() -> UInt64? { fixed(UInt64.self) }

    mutating func string(lengthBytes: Int) -> String? {
        guard let length = lengthBytes == 1 ? u8().map(Int.init) : fixed(UInt16.self).map(Int.init),
              offset + length <= bytes.count else { return nil }
        defer { offset += length }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), as: UTF8.self)
    }

    private mutating func fixed<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard offset + size <= bytes.count else { return nil }
        defer { offset += size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
