import Testing
@testable import TickEngine

/// A writer lane's rules without threads or time: waiters are plain tokens.
@Suite struct WriterLaneStateTests {
    typealias State = WriterLaneState<String>

    @Test func atMostDepthBatchesAreQueuedOrRunningAndADoneBatchFreesRoom() {
        var lane = State(depth: 2)
        let first = lane.submitBatch(), second = lane.submitBatch(), third = lane.submitBatch()
        #expect(first && second && !third)
        let parked = lane.parkForRoom("pipeline")
        #expect(parked && lane.roomWaiters == ["pipeline"])
        let done = lane.batchDone()
        #expect(done.resume == ["pipeline"] && !done.free, "room for one more; still busy")
        let retry = lane.submitBatch()
        #expect(retry && lane.batches == 2)
        let parkedAgain = lane.parkForRoom("late")
        #expect(parkedAgain, "full again: the next one waits")
    }

    @Test func idleWaitersAreResumedWhenTheLastBatchIsDone() {
        var lane = State(depth: 2)
        let idleAtOnce = lane.parkUntilIdle("early")
        #expect(!idleAtOnce, "nothing queued: idle already")
        _ = lane.submitBatch()
        _ = lane.submitBatch()
        let parked = lane.parkUntilIdle("flush")
        #expect(parked)
        let first = lane.batchDone()
        #expect(first.resume.isEmpty && !first.free, "one batch still queued")
        let done = lane.batchDone()
        #expect(done.resume == ["flush"] && done.free)
    }

    @Test func aStoppingLaneKeepsNoOneWaitingForRoomAndStillCountsItsBatches() {
        var lane = State(depth: 1)
        _ = lane.submitBatch()
        let parked = lane.parkForRoom("late")
        let idle = lane.parkUntilIdle("flush")
        #expect(parked && idle)
        #expect(lane.stop() == ["late"])
        #expect(lane.hasRoom, "a stopping lane keeps no one waiting for room")
        let done = lane.batchDone()
        #expect(done.resume == ["flush"] && done.free, "the queued batch still runs and frees the idle waiter")
    }
}
