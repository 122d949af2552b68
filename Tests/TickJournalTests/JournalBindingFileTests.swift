import Foundation
import Testing
import TickJournal

/// The journal's database binding on disk, and discarding a journal.
@Suite struct JournalBindingFileTests {
    @Test func aBindingSurvivesReopeningAndAJournalStartedAfreshHasNone() async throws {
        let dir = JournalTests.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let journal = try Journal(options: JournalOptions(directory: dir))
            #expect(journal.boundDatabase == nil && journal.firstRecord == nil)
            try journal.bind(to: "db-a")
            for n in 1...3 { _ = try journal.append(JournalTests.chunk(n)) }
            try await journal.sync()
        }
        let reopened = try Journal(options: JournalOptions(directory: dir))
        #expect(reopened.boundDatabase == "db-a")
        #expect(reopened.firstRecord == 1 && reopened.recoveredThrough == 3)
    }

    @Test func discardRemovesRecordsIdentityAndBindingButNotWhileAJournalIsOpen() async throws {
        let dir = JournalTests.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var identity = ""
        do {
            let journal = try Journal(options: JournalOptions(directory: dir))
            identity = journal.identity
            try journal.bind(to: "db-a")
            for n in 1...3 { _ = try journal.append(JournalTests.chunk(n)) }
            #expect(throws: JournalError.self) { try Journal.discard(directory: dir) }
            try await journal.sync()
        }
        let discarded = try Journal.discard(directory: dir)
        #expect(discarded.segments == 1 && discarded.bytes > 0)
        #expect(JournalTests.segmentFiles(dir).isEmpty)
        let fresh = try Journal(options: JournalOptions(directory: dir))
        #expect(fresh.boundDatabase == nil && fresh.firstRecord == nil && fresh.recoveredThrough == 0)
        #expect(fresh.identity != identity)
    }
}
