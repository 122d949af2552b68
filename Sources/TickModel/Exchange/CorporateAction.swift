/// A change to an instrument's shares from its ex-date on: a split (2-for-1: `2:1`), a bonus
/// issue (1 for every 10 held: `11:10`) or a consolidation (1 for every 10: `1:10`). The ratio
/// is new shares : old shares, so a price before the ex-date is worth `old / new` of itself in
/// today's shares, and a size `new / old` of itself.
public struct CorporateAction: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case split, bonus, consolidation
    }

    public var symbol: Symbol
    /// The first trading day in new shares, as days since 1970-01-01.
    public var exDate: Int
    public var kind: Kind
    public var newShares: Int64
    public var oldShares: Int64

    public init(symbol: Symbol, exDate: Int, kind: Kind, newShares: Int64, oldShares: Int64) {
        self.symbol = symbol
        self.exDate = exDate
        self.kind = kind
        self.newShares = newShares
        self.oldShares = oldShares
    }

    /// The ex-date as `YYYY-MM-DD`.
    public var exDateText: String { Self.dateText(exDate) }

    /// Reads one CSV line `symbol,ex_date,kind,ratio` (blanks around cells ignored, the symbol
    /// upper-cased); the error says what is wrong.
    public static func parse(_ line: String) -> Result<CorporateAction, ParseError> {
        let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
        guard cells.count == 4 else { return .failure(ParseError("expected symbol,ex_date,kind,ratio, got \(cells.count) cells")) }
        let symbol = cells[0].uppercased()
        guard !symbol.isEmpty else { return .failure(ParseError("the symbol is empty")) }
        guard let exDate = day(cells[1]) else { return .failure(ParseError("ex_date '\(cells[1])' is not a date (YYYY-MM-DD)")) }
        guard let kind = Kind(rawValue: cells[2].lowercased()) else {
            return .failure(ParseError("kind '\(cells[2])' is not split, bonus or consolidation"))
        }
        let parts = cells[3].split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let new = Int64(parts[0]), let old = Int64(parts[1]), new > 0, old > 0, new <= 1_000_000, old <= 1_000_000 else {
            return .failure(ParseError("ratio '\(cells[3])' is not new:old in whole shares (2:1, 11:10, 1:10)"))
        }
        if kind == .consolidation ? new >= old : new <= old {
            return .failure(ParseError(kind == .consolidation
                ? "a consolidation gives fewer shares than it takes: new:old with new < old, got \(cells[3])"
                : "a \(kind) gives more shares than it takes: new:old with new > old, got \(cells[3])"))
        }
        return .success(CorporateAction(symbol: Symbol(symbol), exDate: exDate, kind: kind, newShares: new, oldShares: old))
    }

    /// Why a line is not a corporate action.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Days since 1970-01-01 of `YYYY-MM-DD`, nil when it is not a real date.
    static func day(_ text: String) -> Int? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month), day >= 1 else { return nil }
        let number = Int(CivilDate.days(year: Int64(year), month: Int64(month), day: Int64(day)))
        // 2026-02-30 comes back as March 2nd.
        guard dateText(number) == text else { return nil }
        return number
    }

    /// `YYYY-MM-DD` of a day number.
    static func dateText(_ day: Int) -> String {
        let (y, m, d) = CivilDate.fromDays(Int64(day))
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(y)-\(two(m))-\(two(d))"
    }
}

extension String {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return String(text)
    }
}
