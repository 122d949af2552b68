import Testing
@testable import TickEngine

/// A writer lane's rules without threads or time: waiters are plain tokens, jobs numbers.
@Suite struct WriterLaneStateTests {
    typealias State = WriterLaneState<String, Int>

    @Test func atMostDepthBatchesAreQueuedOrRunningAndADoneBatchFreesRoom() {
        var lane = State(depth: 2)
        let first = lane.submit(1), second = lane.submit(2), third = lane.submit(3)
        #expect(first == .queued(wake: nil) && second == .queued(wake: nil) && third == .full)
        let parked = lane.parkForRoom("pipeline")
        #expect(parked && lane.roomWaiters == ["pipeline"])
        #expect(lane.takeJob() == 1)
        let done = lane.batchDone()
        #expect(done.resume == ["pipeline"] && !done.free, "room for one more; still busy")
        let retry = lane.submit(3)
        #expect(retry == .queued(wake: nil) && lane.batches == 2)
        let parkedAgain = lane.parkForRoom("late")
        #expect(parkedAgain, "full again: the next one waits")
    }

    @Test func batchesAreServedInTheOrderSubmittedAndASubmitWakesTheParkedServer() {
        var lane = State(depth: 3)
        let parked = lane.parkServer("server")
        #expect(parked, "nothing to serve: the serving loop parks")
        let first = lane.submit(10)
        #expect(first == .queued(wake: "server"), "the first batch wakes it")
        let second = lane.submit(20)
        #expect(second == .queued(wake: nil), "woken already")
        let busy = lane.parkServer("server")
        #expect(!busy, "batches wait: it does not park")
        #expect(lane.takeJob() == 10 && lane.takeJob() == 20 && lane.takeJob() == nil)
        #expect(lane.batches == 2, "taken batches count until they are done")
    }

    @Test func idleWaitersAreResumedWhenTheLastBatchIsDone() {
        var lane = State(depth: 2)
        let idleAtOnce = lane.parkUntilIdle("early")
        #expect(!idleAtOnce, "nothing queued: idle already")
        _ = lane.submit(1)
        _ = lane.submit(2)
        let parked = lane.parkUntilIdle("flush")
        #expect(parked)
        let first = lane.batchDone()
        #expect(first.resume.isEmpty && !first.free, "one batch still queued")
        let done = lane.batchDone()
        #expect(done.resume == ["flush"] && done.free)
    }

    @Test func aStoppingLaneKeepsNoOneWaitingForRoomAndStillCountsItsBatches() {
        var lane = State(depth: 1)
        _ = lane.submit(1)
        let parked = lane.parkForRoom("late")
        let idle = lane.parkUntilIdle("flush")
        #expect(parked && idle)
        #expect(lane.stop() == ["late"])
        #expect(lane.hasRoom, "a stopping lane keeps no one waiting for room")
        let late = lane.submit(2)
        #expect(late == .dropped && lane.batches == 1, "a stopped lane takes nothing more")
        let done = lane.batchDone()
        #expect(done.resume == ["flush"] && done.free, "the queued batch still runs and frees the idle waiter")
    }

    @Test func theEndDropsWhatWasNotTakenAndLetsEveryoneGo() {
        var lane = State(depth: 3)
        _ = lane.submit(1)
        _ = lane.submit(2)
        _ = lane.submit(3)
        #expect(lane.takeJob() == 1, "one batch in hand")
        let room = lane.parkForRoom("pipeline")
        let idle = lane.parkUntilIdle("flush")
        #expect(room && idle)
        #expect(lane.end() == ["pipeline"], "room for the pipeline; the batch in hand still runs")
        #expect(lane.batches == 1 && lane.takeJob() == nil, "2 and 3 were dropped")
        let parked = lane.parkServer("server")
        #expect(!parked, "the serving loop returns instead of parking")
        let done = lane.batchDone()
        #expect(done.resume == ["flush"] && done.free)
        let after = lane.submit(4)
        #expect(after == .dropped)
    }

    @Test func theEndWakesAParkedServer() {
        var lane = State(depth: 2)
        let parked = lane.parkServer("server")
        #expect(parked)
        #expect(lane.end() == ["server"])
    }
}
