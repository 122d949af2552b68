import LibPQ

/// A table that is in tickd's way, or lacks what tickd needs. Nothing was created or changed;
/// the description is one line that names the table, what was found, what tickd needs and the fix.
public struct TableConflict: Error, CustomStringConvertible, Sendable {
    public let table: String
    public let description: String
}

/// What tickd needs of `stocks`, a table the application (the Stock Soko backend) may own, with
/// its own id scheme, nullable columns and unbounded varchars.
public enum StocksTable {
    /// The columns `run` and `replay` read and write: the symbol to find a row by, and the prices.
    static let liveColumns: [(name: String, kind: ColumnKind)] = [
        ("symbol", .text), ("latest_price", .decimal), ("previous_close", .decimal), ("updated_at", .time)]
    /// The descriptive columns `seed` writes where the table has them (`name` it must have).
    static let descriptiveColumns: [(name: String, kind: ColumnKind)] = [
        ("name", .text), ("sector", .text), ("exchange", .text), ("currency", .text), ("lot_size", .wholeNumber), ("market_cap", .decimal)]

    /// Checks the columns `run` and `replay` use; throws the first that is missing or incompatible.
    public static func checkLive(_ shape: TableShape) throws(TableConflict) {
        for (name, kind) in liveColumns { try check(shape, column: name, kind: kind, writtenBy: "tickd run") }
        if shape.column("symbol")?.unique == false {
            throw TableConflict(table: shape.table.description, description: """
                table \(shape.table): column symbol has no unique constraint, which tickd needs to find an instrument by its symbol; \
                fix: ALTER TABLE \(shape.table.sql) ADD UNIQUE (symbol)
                """)
        }
    }

    /// Checks what `seed` needs on top: `name`, compatible descriptive columns, and every other
    /// NOT NULL column filled by a default (or by tickd: an `id` without one, see `idExpression`).
    public static func checkSeed(_ shape: TableShape) throws(TableConflict) {
        try checkLive(shape)
        try check(shape, column: "name", kind: .text, writtenBy: "tickd seed")
        for (name, kind) in descriptiveColumns where shape.column(name) != nil {
            try check(shape, column: name, kind: kind, writtenBy: "tickd seed")
        }
        let written = Set((liveColumns + descriptiveColumns).map(\.name))
        for column in shape.columns where column.notNull && !column.hasDefault && !written.contains(column.name) && column.name != "id" {
            throw TableConflict(table: shape.table.description, description: """
                table \(shape.table): column \(column.name) is NOT NULL without a default, and tickd seed has no value for it; \
                seed the instruments with the application instead (tickd run needs only symbol, latest_price, previous_close, updated_at), \
                or give the column a default
                """)
        }
        _ = try idExpression(shape)
    }

    /// The SQL that makes an `id` for a new row when the column has no default of its own (the
    /// Stock Soko backend's uuid is made by the ORM, client-side), of the column's type; nil when
    /// the server makes one or the table has no NOT NULL `id`.
    public static func idExpression(_ shape: TableShape) throws(TableConflict) -> String? {
        guard let id = shape.column("id"), id.notNull, !id.hasDefault else { return nil }
        switch id.baseType {
        case "uuid": return "gen_random_uuid()"
        case "text", "character varying": return "gen_random_uuid()::text"
        default:
            throw TableConflict(table: shape.table.description, description: """
                table \(shape.table): column id is \(id.type) NOT NULL without a default, and tickd makes ids only for uuid or text columns; \
                give it a default (an identity or a sequence) or seed the instruments with the application
                """)
        }
    }

    private static func check(_ shape: TableShape, column name: String, kind: ColumnKind, writtenBy command: String) throws(TableConflict) {
        guard let column = shape.column(name) else {
            throw TableConflict(table: shape.table.description, description: """
                table \(shape.table) has no column \(name), which \(command) needs (\(kind.needed)); \
                fix: ALTER TABLE \(shape.table.sql) ADD COLUMN \(name) \(kind.columnSQL)
                """)
        }
        guard kind.accepts(column.baseType) else {
            throw TableConflict(table: shape.table.description, description: """
                table \(shape.table): column \(name) is \(column.type), and \(command) needs \(kind.needed)
                """)
        }
    }
}

/// Whether an existing ticks table is tickd's: an application's `market_ticks` of another shape
/// (the Stock Soko backend's has `id`, `stock_id`) is told apart before anything is created.
public enum TicksTable {
    /// tickd's columns and their exact types.
    static let columns: [(name: String, type: String)] = [
        ("time", "timestamp with time zone"), ("symbol", "text"), ("trade_seq", "bigint"), ("open", "numeric"), ("high", "numeric"),
        ("low", "numeric"), ("close", "numeric"), ("volume", "bigint"), ("seq", "bigint")]

    /// Throws when `shape` lacks one of tickd's columns or has it with another type.
    public static func checkOwned(_ shape: TableShape) throws(TableConflict) {
        var differences: [String] = []
        for (name, type) in columns {
            guard let column = shape.column(name) else { differences.append("no \(name) \(type)"); continue }
            if column.baseType != type { differences.append("\(name) is \(column.type), not \(type)") }
        }
        guard !differences.isEmpty else { return }
        let name = shape.table.description
        let suggestion = shape.table.name.hasPrefix("tickd_") ? "tickd_ticks" : "tickd_\(shape.table.name)"
        throw TableConflict(table: name, description: """
            table \(name) exists and is not tickd's (it has \(shape.columns.map(\.name).joined(separator: ", ")); \
            \(differences.joined(separator: ", "))); nothing was changed. Fix: set database.ticks_table \
            (TICKD_DATABASE_TICKS_TABLE) to a table of tickd's own, e.g. \(suggestion), or let tickd own \(name) by renaming the application's
            """)
    }
}

extension ColumnKind {
    /// The column's type in an ADD COLUMN fix.
    var columnSQL: String {
        switch self {
        case .text: "text"
        case .decimal: "numeric"
        case .time: "timestamptz"
        case .wholeNumber: "integer"
        }
    }
}
