import Testing
@testable import TickDaemon

/// Whether a journal may be applied to the database tickd is pointed at (no I/O).
@Suite struct JournalBindingTests {
    @Test(arguments: [
        (nil as String?, "b", false, JournalBinding.bind),
        (nil, "b", true, .bind),          // a journal from before bindings: bound on first start
        ("a", "a", true, .matches),       // its database, or a restored backup of it
        ("a", "a", false, .matches),
        ("a", "b", true, .refuse(bound: "a")),
        ("a", "b", false, .bind),         // holds nothing: nothing of a's can leak into b
    ])
    func decide(bound: String?, database: String, holdsRecords: Bool, expected: JournalBinding) {
        #expect(JournalBinding.decide(bound: bound, database: database, holdsRecords: holdsRecords) == expected)
    }
}
