import Foundation
import TickModel

/// The exchange's time zone (default `Africa/Nairobi`, UTC+3 with no daylight saving):
/// places naive wall-clock times on the UTC time line and tells the trading day of an instant.
///
/// Offsets come from the system's tz database through Foundation and are cached per hour of
/// wall-clock time, so the hot path is a comparison, not a tz lookup.
public struct ExchangeZone: Sendable {
    public let identifier: String
    private let zone: TimeZone
    private var cachedHour: Int64 = .min
    private var cachedOffset: Int64 = 0

    /// Nil when the tz database has no such zone.
    public init?(identifier: String) {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.identifier = identifier
        self.zone = zone
    }

    public static let nairobi = ExchangeZone(identifier: "Africa/Nairobi")!

    /// The instant a wall-clock time (ns since 1970-01-01T00:00 of the wall clock) denotes.
    /// In a daylight-saving gap or overlap the offset in force just before the time is used.
    public mutating func instant(ofWallClock wall: Int64) -> Timestamp {
        let hour = Self.floorDiv(wall, 3_600_000_000_000)
        if hour != cachedHour {
            let guess = Double(hour * 3600)
            let first = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: guess)))
            let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: guess - Double(first))))
            cachedHour = hour
            cachedOffset = offset
        }
        return Timestamp(nanosecondsSinceEpoch: wall - cachedOffset * 1_000_000_000)
    }

    /// The UTC offset in seconds at an instant.
    public func offsetSeconds(at instant: Timestamp) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant.secondsSinceEpoch))))
    }

    /// The trading day of an instant: days since 1970-01-01 of the zone's wall clock.
    public func tradingDay(of instant: Timestamp) -> Int {
        Int(Self.floorDiv(instant.secondsSinceEpoch + offsetSeconds(at: instant), 86_400))
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? q - 1 : q
    }
}
