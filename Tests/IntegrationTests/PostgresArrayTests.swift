import LibPQ
import Testing

/// tickd's one array encoder against the server's parser: hostile text comes back as it went in.
@Suite struct PostgresArrayTests {
    static let hostile = ["SCOM", "", " ", "NULL", "null", "a,b", "{}", "{a,b}", #"say "hi""#, #"back\slash"#, #"\""#, #"\\"#,
                          "tab\there", "new\nline", "cr\rlf", " lead", "trail ", "ünïcødé", "📈", "'; DROP TABLE stocks; --",
                          "$1", "a]b"]

    @Test func hostileTextRoundTripsThroughTheServer() throws {
        let db = try TestDatabase()
        let rows = try db.sql.execute("SELECT unnest($1::text[])", [PostgresArray.text(Self.hostile)]).rows.map { $0[0] }
        #expect(rows == Self.hostile.map { Optional($0) })
        #expect(try db.sql.execute("SELECT cardinality($1::text[])", [PostgresArray.text([String]())]).value(row: 0, column: 0) == "0")
    }

    @Test func numbersAndTimesRoundTripUnquoted() throws {
        let db = try TestDatabase()
        let numbers: [Int64] = [0, -1, Int64.min, Int64.max]
        #expect(try db.sql.execute("SELECT unnest($1::int8[])", [PostgresArray.int64(numbers)]).rows.map { $0[0] } == numbers.map { String($0) })
        let times = PostgresArray.plain(["2026-01-05T06:00:00.000001Z", "2026-01-05T06:00:00Z"])
        #expect(try db.sql.execute("SELECT unnest($1::timestamptz[]) AT TIME ZONE 'UTC'", [times]).rows.map { $0[0] }
                == ["2026-01-05 06:00:00.000001", "2026-01-05 06:00:00"])
    }
}
