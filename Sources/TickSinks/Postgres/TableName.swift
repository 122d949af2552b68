/// A validated table name, optionally schema-qualified (`market_ticks`, `md.market_ticks`),
/// ready to splice into SQL as quoted identifiers. Only names made of letters, digits and `_`
/// (not starting with a digit, at most 63 bytes a part) are accepted, so a configured name can
/// never carry SQL.
public struct TableName: Sendable, Equatable, CustomStringConvertible {
    public let schema: String?
    public let name: String

    /// Nil when `text` is not a plain identifier or `schema.identifier`.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy(Self.isIdentifier) else { return nil }
        schema = parts.count == 2 ? parts[0] : nil
        name = parts[parts.count - 1]
    }

    /// The name as SQL: `"schema"."name"` or `"name"`.
    public var sql: String { (schema.map { "\"\($0)\"." } ?? "") + "\"\(name)\"" }

    /// An index or constraint name derived from this table (`market_ticks_key`), quoted.
    public func derived(_ suffix: String) -> String { "\"\(name)_\(suffix)\"" }

    /// The table as a SQL string literal (for functions taking a regclass, e.g. create_hypertable).
    public var literal: String { "'\(sql.replacingOccurrences(of: "'", with: "''"))'" }

    public var description: String { (schema.map { "\($0)." } ?? "") + name }

    static func isIdentifier(_ part: String) -> Bool {
        let bytes = Array(part.utf8)
        guard let first = bytes.first, bytes.count <= 63 else { return false }
        let isLetter = { (c: UInt8) in (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A || c == 0x5F }
        return isLetter(first) && bytes.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }
}

/// Quotes `text` as a SQL identifier (`"a""b"`), for names the server reports (a schema).
func quotedIdentifier(_ text: String) -> String { "\"\(text.replacingOccurrences(of: "\"", with: "\"\""))\"" }

/// Quotes `text` as a SQL string literal. Only for values that cannot travel as parameters
/// (DDL such as view definitions); everything on the data path uses parameters or COPY.
func sqlLiteral(_ text: String) -> String { "'\(text.replacingOccurrences(of: "'", with: "''"))'" }
