import Testing
import TickSources

@Suite struct LimitsAndBackoffTests {
    @Test func limiterCountsTotalAndPerPeerAndReleases() {
        let limiter = ConnectionLimiter(maxTotal: 3, maxPerPeer: 2, allow: nil, evictAfter: nil)
        let t0 = ContinuousClock.now
        #expect(limiter.admit(peer: "10.0.0.1", now: t0) == .admitted(id: 0))
        #expect(limiter.admit(peer: "10.0.0.1", now: t0) == .admitted(id: 1))
        #expect(limiter.admit(peer: "10.0.0.1", now: t0) == .refused(.perPeer))
        #expect(limiter.admit(peer: "10.0.0.2", now: t0) == .admitted(id: 2))
        for id in 0..<3 { limiter.completedLines(id: id, now: t0) }
        // Full, everyone talking, no eviction of talking ones: refused.
        #expect(limiter.admit(peer: "10.0.0.3", now: t0 + .seconds(60)) == .refused(.total))
        #expect(limiter.open == 3)
        limiter.release(id: 0)
        limiter.release(id: 0)   // twice: no effect
        #expect(limiter.open == 2)
        #expect(limiter.admit(peer: "10.0.0.3", now: t0) == .admitted(id: 3))
    }

    @Test func aFullListenerEvictsMuteConnectionsFirstThenTheLongestSilent() {
        let limiter = ConnectionLimiter(maxTotal: 3, maxPerPeer: 3, allow: nil, evictAfter: .seconds(2))
        let t0 = ContinuousClock.now
        #expect(limiter.admit(peer: "10.0.0.1", now: t0) == .admitted(id: 0))                    // talks
        #expect(limiter.admit(peer: "10.0.0.2", now: t0) == .admitted(id: 1))                    // mute
        #expect(limiter.admit(peer: "10.0.0.2", now: t0 + .seconds(1)) == .admitted(id: 2))      // mute, newer
        limiter.completedLines(id: 0, now: t0)
        // The oldest mute one goes first, however young; then the next mute one.
        #expect(limiter.admit(peer: "10.0.0.9", now: t0 + .milliseconds(1500)) == .admittedEvicting(id: 3, evicted: 1))
        #expect(limiter.admit(peer: "10.0.0.9", now: t0 + .milliseconds(1500)) == .admittedEvicting(id: 4, evicted: 2))
        limiter.completedLines(id: 3, now: t0 + .milliseconds(1600))
        limiter.completedLines(id: 4, now: t0 + .milliseconds(1700))
        // Everyone talked within 2 s: refused. Later, the one silent longest (id 0) gives way.
        #expect(limiter.admit(peer: "10.0.0.8", now: t0 + .milliseconds(1900)) == .refused(.total))
        #expect(limiter.admit(peer: "10.0.0.8", now: t0 + .seconds(3)) == .admittedEvicting(id: 5, evicted: 0))
        // An evicted connection's own release later changes nothing.
        limiter.release(id: 0)
        #expect(limiter.open == 3)
        // Per-peer limits are checked before eviction: a peer at its limit evicts nobody.
        let perPeer = ConnectionLimiter(maxTotal: 2, maxPerPeer: 1, allow: nil)
        #expect(perPeer.admit(peer: "10.0.0.1", now: t0) == .admitted(id: 0))
        #expect(perPeer.admit(peer: "10.0.0.1", now: t0) == .refused(.perPeer))
    }

    @Test func silentConnectionsAreThoseWithoutACompleteLineForTheTimeout() {
        let limiter = ConnectionLimiter(maxTotal: 10, maxPerPeer: 10, allow: nil)
        let t0 = ContinuousClock.now
        _ = limiter.admit(peer: "a", now: t0)                       // 0: mute (a slow-loris sends bytes, never a line)
        _ = limiter.admit(peer: "b", now: t0)                       // 1: talks at t0 + 4 s
        limiter.completedLines(id: 1, now: t0 + .seconds(4))
        #expect(limiter.silent(for: .seconds(5), now: t0 + .seconds(6)) == [0])
        #expect(limiter.silent(for: .seconds(5), now: t0 + .seconds(9)).sorted() == [0, 1])
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
        #expect(limiter.admit(peer: "192.168.1.1") == .refused(.notAllowed))
    }
}
