import Foundation
import Testing
import TickJournal

/// The journal's database binding on disk, and discarding a journal.
@Suite struct JournalBindingFileTests {
    @Test(.timeLimit(.minutes(1))) func aBindingSurvivesReopeningAndAJournalStartedAfreshHasNone() async throws {
        let dir = JournalTests.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        weak var closed: Journal?
        do {
            let journal = try Journal(options: JournalOptions(directory: dir))
            closed = journal
            #expect(journal.boundDatabase == nil && journal.firstRecord == nil)
            try journal.bind(to: "db-a")
            for n in 1...3 { _ = try journal.append(JournalTests.chunk(n)) }
            try await journal.sync()
        }
        // The executor that ran the last fsync lets go of the journal (and its lock) just after
        // resuming the wait: reopen once it is gone.
        while closed != nil { try await Task.sleep(for: .milliseconds(1)) }
        let reopened = try Journal(options: JournalOptions(directory: dir))
        #expect(reopened.boundDatabase == "db-a")
        #expect(reopened.firstRecord == 1 && reopened.recoveredThrough == 3)
    }

    @Test(.timeLimit(.minutes(1))) func discardRemovesRecordsIdentityAndBindingButNotWhileAJournalIsOpen() async throws {
        let dir = JournalTests.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var identity = ""
        weak var closed: Journal?
        do {
            let journal = try Journal(options: JournalOptions(directory: dir))
            closed = journal
            identity = journal.identity
            try journal.bind(to: "db-a")
            for n in 1...3 { _ = try journal.append(JournalTests.chunk(n)) }
            #expect(throws: JournalError.self) { try Journal.discard(directory: dir) }
            try await journal.sync()
        }
        while closed != nil { try await Task.sleep(for: .milliseconds(1)) }
        let discarded = try Journal.discard(directory: dir)
        #expect(discarded.segments == 1 && discarded.bytes > 0)
        #expect(JournalTests.segmentFiles(dir).isEmpty)
        let fresh = try Journal(options: JournalOptions(directory: dir))
        #expect(fresh.boundDatabase == nil && fresh.firstRecord == nil && fresh.recoveredThrough == 0)
        #expect(fresh.identity != identity)
    }
}
