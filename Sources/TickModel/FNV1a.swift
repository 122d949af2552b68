/// FNV-1a, 64 bits: a fast, stable fingerprint of bytes (the same in every run, unlike
/// `Hasher`; not a cryptographic hash). Identifies a feed file's head and spreads symbols over
/// the database writers (`SymbolPartition`).
public enum FNV1a {
    public static func hash<C: Sequence<UInt8>>(_ bytes: C) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return h
    }
}
