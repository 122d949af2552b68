import Testing
import TickModel

/// tickd's one retry policy, used by the sink, the candle refresher, the Redis publisher and the
/// upstream feed client.
@Suite struct BackoffTests {
    @Test func pausesDoubleFromTheFirstToTheCap() {
        let backoff = Backoff(initial: .milliseconds(100), cap: .milliseconds(500))
        #expect((1...6).map { backoff.pause(attempt: $0) }
                == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500), .milliseconds(500)])
        #expect(backoff.pause(attempt: 0) == .milliseconds(100))
        #expect(backoff.pause(attempt: 10_000) == .milliseconds(500), "no overflow on a long outage")
        #expect(Backoff(initial: .seconds(2), cap: .seconds(1)).pause(attempt: 1) == .seconds(2), "a cap below the first pause is raised to it")
    }

    @Test func nextCountsFailuresWithJitterAndResets() {
        var backoff = Backoff(initial: .milliseconds(100), cap: .seconds(1))
        let highs = (0..<6).map { _ in backoff.next(jitter: 1) }
        #expect(highs == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(backoff.failures == 6)
        backoff.reset()
        #expect(backoff.next(jitter: 0) == .milliseconds(50))   // jitter floor: half the pause
        #expect(backoff.next() == .milliseconds(200))           // no jitter: all of it
        #expect(backoff.failures == 2)
    }
}
