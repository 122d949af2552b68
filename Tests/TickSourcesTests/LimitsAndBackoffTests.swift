import Testing
import TickSources

@Suite struct LimitsAndBackoffTests {
    @Test func limiterCountsTotalAndPerPeerAndReleases() {
        let limiter = ConnectionLimiter(maxTotal: 3, maxPerPeer: 2, allow: nil)
        #expect(limiter.admit(peer: "10.0.0.1") == nil)
        #expect(limiter.admit(peer: "10.0.0.1") == nil)
        #expect(limiter.admit(peer: "10.0.0.1") == .perPeer)
        #expect(limiter.admit(peer: "10.0.0.2") == nil)
        #expect(limiter.admit(peer: "10.0.0.3") == .total)
        #expect(limiter.open == 3)
        limiter.release(peer: "10.0.0.1")
        #expect(limiter.admit(peer: "10.0.0.3") == nil)
    }

    @Test func allowListMatchesAddressesAndRanges() throws {
        let allow = try #require(AddressAllowList(["127.0.0.1", "10.1.0.0/16", "::1", "fd00::/8"]))
        #expect(allow.allows("127.0.0.1"))
        #expect(!allow.allows("127.0.0.2"))
        #expect(allow.allows("10.1.255.3"))
        #expect(!allow.allows("10.2.0.1"))
        #expect(allow.allows("::1"))
        #expect(allow.allows("fd12:3456::1"))
        #expect(allow.allows("::ffff:10.1.2.3"))        // IPv4-mapped
        #expect(!allow.allows("not an address"))
        #expect(AddressAllowList(["10.0.0.0/33"]) == nil)
        #expect(AddressAllowList(["example.com"]) == nil)
        let limiter = ConnectionLimiter(maxTotal: 10, maxPerPeer: 10, allow: allow)
        #expect(limiter.admit(peer: "192.168.1.1") == .notAllowed)
    }

    @Test func backoffDoublesToTheCapWithJitterAndResets() {
        var backoff = ReconnectBackoff(base: .milliseconds(100), cap: .seconds(1))
        let highs = (0..<6).map { _ in backoff.nextDelay(unit: 1) }
        #expect(highs == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        backoff.reset()
        #expect(backoff.nextDelay(unit: 0) == .milliseconds(50))   // jitter floor: half the ceiling
        #expect(backoff.failures == 1)
    }
}
