import CoreMetrics
import LibPQ
import TickModel
import TickNormalisation

/// The exchange's price checks on a sink's batches: each trade against its trading day's limit
/// band around the previous close, and against the tick grid (`PriceCheck`).
///
/// The previous close of day D is the official close of the last day before D, computed from
/// the stored ticks like `previous_close` (so replays of history are checked against their own
/// days); the day's limit is the profile's unless `tickd_price_limits` changes or lifts it. Both
/// are fetched once per symbol and day, again after 30 s (an override added meanwhile), and
/// again when a batch of another day comes (a late tick changes the next day's close). A batch
/// is single-day when checks are on (the sink splits it), so a day's reference never depends on
/// ticks of the same batch.
final class PriceGate {
    let check: PriceCheck
    private let zone: ExchangeZone
    private let referenceSQL: String

    /// Day D's previous close and limit for one symbol.
    struct Reference {
        let day: Int
        let previousClose: Price?
        let limitPercent: Price?
        let fetched: ContinuousClock.Instant
    }
    private var references: [Symbol: Reference] = [:]
    static let refetchAfter = Duration.seconds(30)

    /// A trade the checks held back, with why and against what.
    struct Held: Sendable {
        let keyed: KeyedTick
        let violations: [PriceCheck.Violation]
        let previousClose: Price?
        let limitPercent: Price?
    }

    /// A batch sorted by the checks.
    struct Outcome {
        /// To store: trades that broke no rule, and those whose action is `accept`.
        var passed: [KeyedTick] = []
        /// The accepted trades that broke a rule, for their Redis message.
        var flags: [StorageKey: [PriceCheck.Violation]] = [:]
        var quarantined: [Held] = []
        var rejected: [Held] = []
    }

    init(_ options: SchemaOptions) {
        check = options.priceCheck
        zone = ExchangeZone(identifier: options.exchangeZone) ?? .nairobi
        referenceSQL = Self.referenceSQL(options)
    }

    /// The zone's offset, looked up once per quarter hour of UTC (zones change offset on a
    /// quarter hour at the finest), so a batch costs a division per tick, not a tz lookup.
    private var cachedQuarter: Int64 = .min
    private var cachedOffset: Int64 = 0

    /// Seconds since 1970-01-01T00:00 of the exchange's wall clock at `time`.
    func localSeconds(_ time: Timestamp) -> Int64 {
        let seconds = time.secondsSinceEpoch
        let quarter = seconds >= 0 ? seconds / 900 : (seconds - 899) / 900
        if quarter != cachedQuarter {
            cachedQuarter = quarter
            cachedOffset = zone.offsetSeconds(at: Timestamp(secondsSinceEpoch: quarter * 900))
        }
        return seconds + cachedOffset
    }

    /// The trading day of `time`: days since 1970-01-01 in the exchange's zone.
    func day(of time: Timestamp) -> Int {
        let local = localSeconds(time)
        return Int(local >= 0 ? local / 86_400 : (local - 86_399) / 86_400)
    }

    /// When instruments and the market were halted, as the last batch knew (`TradingHolds`).
    var holds = TradingHolds()

    /// Sorts `ticks` (all of one trading day) by the checks and the holds, fetching references
    /// it lacks.
    func classify(_ ticks: [KeyedTick], on db: Connection, now: ContinuousClock.Instant = .now) throws(PostgresError) -> Outcome {
        guard check.isActive || holds.holdsAny, let first = ticks.first else { return Outcome(passed: ticks) }
        if check.isActive {
            let day = day(of: first.tick.time)
            let missing = Set(ticks.map(\.tick.symbol)).filter { symbol in
                guard let known = references[symbol] else { return true }
                return known.day != day || now - known.fetched >= Self.refetchAfter
            }.sorted { $0.rawValue < $1.rawValue }
            if !missing.isEmpty { try fetch(missing, day: day, on: db, now: now) }
        }
        var outcome = Outcome()
        for keyed in ticks {
            let reference = check.isActive ? references[keyed.tick.symbol] : nil
            var violations = check.isActive ? check.violations(of: keyed.tick.close, previousClose: reference?.previousClose,
                                                               limitPercent: reference?.limitPercent) : []
            if holds.holdsAny, let held = holds.violation(for: keyed.tick) { violations.append(held) }
            switch check.action(for: violations) {
            case nil:
                outcome.passed.append(keyed)
            case .accept:
                outcome.passed.append(keyed)
                outcome.flags[StorageKey(keyed)] = violations
            case .quarantine:
                outcome.quarantined.append(Held(keyed: keyed, violations: violations, previousClose: reference?.previousClose,
                                                limitPercent: reference?.limitPercent))
            case .reject:
                outcome.rejected.append(Held(keyed: keyed, violations: violations, previousClose: reference?.previousClose,
                                             limitPercent: reference?.limitPercent))
            }
        }
        return outcome
    }

    /// Fetches the references of `symbols` again at their next trade (a cancel or correction
    /// may have changed a close they are centred on).
    func forget(_ symbols: Set<Symbol>) {
        for symbol in symbols { references[symbol] = nil }
    }

    private func fetch(_ symbols: [Symbol], day: Int, on db: Connection, now: ContinuousClock.Instant) throws(PostgresError) {
        let rows = try db.execute(referenceSQL, [zone.identifier, PostgresArray.text(symbols.map(\.rawValue)), String(day),
                                                 check.limitPercent?.description]).rows
        for row in rows {
            guard let symbol = row[0] else { continue }
            references[Symbol(symbol)] = Reference(day: day, previousClose: row[1].flatMap(PostgresSink.price),
                                                   limitPercent: row[2].flatMap(PostgresSink.price), fetched: now)
        }
    }

    /// Per symbol ($2) and day ($3, days since 1970-01-01, in zone $1): the official close of the
    /// last day before it with one, in the day's shares (a split since divides it), else the close
    /// `stocks` holds; and the day's limit ($4, or the override in `tickd_price_limits`, NULL when
    /// lifted).
    static func referenceSQL(_ options: SchemaOptions) -> String {
        """
            WITH q AS (
                SELECT s.symbol, DATE '1970-01-01' + $3::int AS day,
                       ((DATE '1970-01-01' + $3::int)::timestamp AT TIME ZONE $1) AS day_start
                FROM unnest($2::text[]) AS s(symbol)
            ), \(BatchSQL.officialCloses(options, of: "q", dayColumn: "day"))
            SELECT q.symbol, COALESCE(o.close, st.previous_close)::text,
                   (CASE WHEN pl.symbol IS NULL THEN $4::numeric ELSE pl.limit_percent END)::text
            FROM q LEFT JOIN official o ON o.symbol = q.symbol
            LEFT JOIN \(options.stocksTable.sql) st ON st.symbol = q.symbol
            LEFT JOIN tickd_price_limits pl ON pl.symbol = q.symbol AND pl.trading_day = q.day
            """
    }

    /// A held-back trade as a CSV line under `csvHeader` (its dead letter; `tickd redrive` reads it).
    static let csvHeader = "time,symbol,price,volume,trade_id"
    static func csvLine(_ keyed: KeyedTick) -> String {
        "\(keyed.tick.time.rfc3339(fractionDigits: 6)),\(keyed.tick.symbol.rawValue),\(keyed.tick.close),\(keyed.tick.volume),\(keyed.tradeSeq)"
    }
}

/// `tickd_price_checks_total{violation,action}`: trades that broke an exchange rule, by what was done.
enum PriceCheckMetrics {
    static func count(_ outcome: PriceGate.Outcome) {
        func add(_ violations: [PriceCheck.Violation], _ action: PriceCheck.Action) {
            for violation in violations {
                Counter(label: "tickd_price_checks_total", dimensions: [("violation", violation.rawValue), ("action", action.rawValue)]).increment()
            }
        }
        outcome.flags.values.forEach { add($0, .accept) }
        outcome.quarantined.forEach { add($0.violations, .quarantine) }
        outcome.rejected.forEach { add($0.violations, .reject) }
    }
}
