import Testing
@testable import TickEngine

/// A writer lane's rules without threads or time: waiters and jobs are plain tokens.
@Suite struct WriterLaneStateTests {
    typealias State = WriterLaneState<String, String>

    @Test func atMostDepthBatchesAreQueuedOrRunningAndADoneBatchFreesRoom() {
        var lane = State(depth: 2)
        let first = lane.submitBatch("batch 1"), second = lane.submitBatch("batch 2"), third = lane.submitBatch("batch 3")
        #expect(first && second && !third)
        let parked = lane.parkForRoom("pipeline")
        #expect(parked && lane.roomWaiters == ["pipeline"])
        guard case .run("batch 1") = lane.next() else { Issue.record("jobs out of order"); return }
        let done = lane.batchDone()
        #expect(done.resume == ["pipeline"] && !done.free, "room for one more; still busy")
        let retry = lane.submitBatch("batch 3")
        #expect(retry && lane.batches == 2)
    }

    @Test func idleWaitersAreResumedWhenTheLastBatchIsDone() {
        var lane = State(depth: 2)
        let idleAtOnce = lane.parkUntilIdle("early")
        #expect(!idleAtOnce, "nothing queued: idle already")
        _ = lane.submitBatch("batch")
        let parked = lane.parkUntilIdle("flush")
        #expect(parked)
        _ = lane.next()
        let done = lane.batchDone()
        #expect(done.resume == ["flush"] && done.free)
    }

    @Test func oneOffJobsRunInOrderBetweenBatchesUntilTheThreadEnds() {
        var lane = State(depth: 1)
        _ = lane.submitBatch("batch")
        let accepted = lane.perform("read position")
        #expect(accepted)
        guard case .run("batch") = lane.next(), case .run("read position") = lane.next(), case .wait = lane.next() else {
            Issue.record("not in order"); return
        }
        let parked = lane.parkForRoom("late")
        #expect(parked)
        lane.stop()
        #expect(lane.hasRoom, "a stopping lane keeps no one waiting for room")
        _ = lane.perform("last")
        guard case .run("last") = lane.next(), case .end(let waiters) = lane.next() else { Issue.record("queued jobs not run first"); return }
        #expect(waiters == ["late"] && lane.stopped)
        let after = lane.perform("too late")
        #expect(!after, "refused once the thread has ended")
    }
}
