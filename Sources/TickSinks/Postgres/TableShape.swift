import LibPQ

/// The columns of an existing table as the server describes them: what tickd checks before it
/// works with a table the application may own (`stocks`, an application's `market_ticks`).
public struct TableShape: Sendable {
    /// One column.
    public struct Column: Sendable {
        public let name: String
        /// The type as SQL writes it (`character varying(32)`, `numeric`, `uuid`).
        public let type: String
        /// The base type without modifiers (`character varying`, `numeric`).
        public let baseType: String
        public let notNull: Bool
        /// A server-side default or an identity: an INSERT may leave the column out.
        public let hasDefault: Bool
        /// The default's SQL, when it has one.
        public let defaultSQL: String?
        /// The only key column of a unique index or constraint (ON CONFLICT (column) works).
        public let unique: Bool
    }

    public let table: TableName
    /// In table order.
    public let columns: [Column]

    public func column(_ name: String) -> Column? { columns.first { $0.name == name } }

    /// The shape of `table`, or nil when it does not exist. An unqualified name is looked up in
    /// the schema tickd creates its tables in (`current_schema()`), as `CREATE TABLE IF NOT
    /// EXISTS` does: a table of that name further down the search_path is another installation's.
    public static func inspect(_ table: TableName, on db: Connection) throws(PostgresError) -> TableShape? {
        let relation = table.schema == nil ? "to_regclass(quote_ident(current_schema()) || '.' || $1)" : "to_regclass($1)"
        let rows = try db.execute("""
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, NULL), a.attnotnull,
                   (d.adbin IS NOT NULL OR a.attidentity <> ''), pg_get_expr(d.adbin, d.adrelid),
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indpred IS NULL
                           AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum)
            FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = \(relation) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """, [table.sql]).rows
        guard !rows.isEmpty else { return nil }
        return TableShape(table: table, columns: rows.map { row in
            Column(name: row[0] ?? "", type: row[1] ?? "", baseType: row[2] ?? "", notNull: row[3] == "t",
                   hasDefault: row[4] == "t", defaultSQL: row[5], unique: row[6] == "t")
        })
    }
}

/// A kind of column type tickd can work with.
enum ColumnKind: Sendable {
    /// text or varchar of any length.
    case text
    /// numeric: prices are exact decimals, never binary floats.
    case decimal
    /// timestamptz or timestamp.
    case time
    /// a whole number or numeric.
    case wholeNumber

    /// What the message says tickd needs.
    var needed: String {
        switch self {
        case .text: "text or varchar"
        case .decimal: "numeric (exact decimals)"
        case .time: "timestamptz or timestamp"
        case .wholeNumber: "integer, bigint, smallint or numeric"
        }
    }

    func accepts(_ baseType: String) -> Bool {
        switch self {
        case .text: ["text", "character varying"].contains(baseType)
        case .decimal: baseType == "numeric"
        case .time: ["timestamp with time zone", "timestamp without time zone"].contains(baseType)
        case .wholeNumber: ["integer", "bigint", "smallint", "numeric"].contains(baseType)
        }
    }
}
