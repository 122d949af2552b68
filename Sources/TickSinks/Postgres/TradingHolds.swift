import LibPQ
import TickModel
import TickNormalisation

/// When instruments (and the market) were halted or suspended, from every status change ever
/// recorded (`tickd_trading_status_changes`): a trade is held when the status of its instrument,
/// or of the market, at the trade's time holds trades. So a trade printed before a halt and
/// delivered late is stored, one printed during it is held whenever it comes, and a replay of
/// last month's feed meets last month's halts, not today's status.
///
/// A sink keeps the changes its last batch knew of, by their count (rows are only ever added):
/// every batch's first pipeline reads the count again (`TradingStatusSQL.changeCount`, no extra
/// round trip), and a batch classified under an older count is rolled back, the changes read
/// again, and the batch classified again.
struct TradingHolds: Equatable {
    /// One symbol's changes, oldest first: from `since` on, `status`.
    struct Change: Equatable {
        let since: Timestamp
        let status: TradingStatus
    }
    private(set) var timelines: [Symbol: [Change]] = [:]
    /// How many changes were recorded when these were read.
    private(set) var count: Int64 = 0
    /// Whether any change ever held trades (else nothing is checked).
    private(set) var holdsAny = false

    init() {}

    /// Reads `TradingStatusSQL.changes` rows: symbol, status, since (µs since 1970), in order.
    init(_ result: QueryResult) {
        for row in result.rows {
            guard let symbol = row[0], let status = row[1].flatMap(TradingStatus.init(named:)),
                  let micros = row[2].flatMap({ Int64($0) }) else { continue }
            timelines[Symbol(symbol), default: []].append(Change(since: Timestamp(nanosecondsSinceEpoch: micros * 1000), status: status))
            holdsAny = holdsAny || status.holdsTrades
        }
        count = Int64(result.rowCount)
    }

    /// Why `tick` is held, if it is: its instrument halted or suspended at its time, else the
    /// market halted.
    func violation(for tick: Tick) -> PriceCheck.Violation? {
        if let status = Self.status(in: timelines[tick.symbol], at: tick.time), status.holdsTrades {
            return status == .suspended ? .suspended : .halted
        }
        if let status = Self.status(in: timelines[TradingStatus.market], at: tick.time), status.holdsTrades { return .halted }
        return nil
    }

    /// The status in force at `time`: that of the last change at or before it.
    static func status(in timeline: [Change]?, at time: Timestamp) -> TradingStatus? {
        guard let timeline, let first = timeline.first, first.since <= time else { return nil }
        var low = 0, high = timeline.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if timeline[middle].since <= time { low = middle } else { high = middle - 1 }
        }
        return timeline[low].status
    }
}

/// The statements of `tickd_trading_status` and its changes.
enum TradingStatusSQL {
    /// How many changes are recorded: the version of the holds.
    static let changeCount = "SELECT count(*) FROM tickd_trading_status_changes"

    /// Every change, per symbol oldest first (two at one instant: the later recorded last).
    static let changes = """
        SELECT symbol, status, (extract(epoch FROM since) * 1000000)::int8 FROM tickd_trading_status_changes
        ORDER BY symbol, since, recorded_at
        """

    /// Records one status change ($1 symbol, $2 status, $3 since, $4 reason or NULL, $5 source)
    /// in the changes (once: the same record again adds nothing), and sets the current status
    /// unless it is that status already (its `since` stays the first instant; a reason given is
    /// taken) or the row holds a later status: a record replayed or delivered late never undoes a
    /// newer one. Returns how many changes were recorded and whether the current status changed.
    static let set = """
        WITH change AS (
            INSERT INTO tickd_trading_status_changes (symbol, since, status, reason, source)
            VALUES ($1, $3::timestamptz, $2, $4, $5)
            ON CONFLICT DO NOTHING
            RETURNING symbol
        ), now_status AS (
            INSERT INTO tickd_trading_status AS t (symbol, status, since, reason, source)
            VALUES ($1, $2, $3::timestamptz, $4, $5)
            ON CONFLICT (symbol) DO UPDATE SET
                status = EXCLUDED.status,
                since = CASE WHEN t.status = EXCLUDED.status THEN t.since ELSE EXCLUDED.since END,
                reason = CASE WHEN t.status = EXCLUDED.status THEN COALESCE(EXCLUDED.reason, t.reason) ELSE EXCLUDED.reason END,
                source = EXCLUDED.source, updated_at = now()
            WHERE EXCLUDED.since >= t.since
              AND (t.status <> EXCLUDED.status OR (EXCLUDED.reason IS NOT NULL AND EXCLUDED.reason IS DISTINCT FROM t.reason))
            RETURNING symbol
        )
        SELECT (SELECT count(*) FROM change), (SELECT count(*) FROM now_status)
        """

    /// The changes recorded after $1 (µs since 1970), oldest first, for status messages.
    static let changesAfter = """
        SELECT symbol, status, reason, (extract(epoch FROM since) * 1000000)::int8, source,
               (extract(epoch FROM recorded_at) * 1000000)::int8
        FROM tickd_trading_status_changes WHERE recorded_at > 'epoch'::timestamptz + $1::int8 * interval '1 microsecond'
        ORDER BY recorded_at
        """

    static let lastRecorded = "SELECT (extract(epoch FROM max(recorded_at)) * 1000000)::int8 FROM tickd_trading_status_changes"

    /// Every current status, for `tickd status list` and the publisher of status messages.
    static let all = """
        SELECT symbol, status, reason, (extract(epoch FROM since) * 1000000)::int8, source,
               (extract(epoch FROM updated_at) * 1000000)::int8
        FROM tickd_trading_status ORDER BY symbol = '*' DESC, symbol
        """
}
