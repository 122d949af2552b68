import Hiredis
import TickModel
import TickNormalisation
import TickSinks

extension TickdConfig {
    /// The symbol rules of this configuration; with the `reject` policy the instrument list is
    /// read from `instrumentsFile`.
    /// `known` replaces the instrument file as the list of listed symbols (the database's `stocks`).
    public func makeSymbolRules(known listed: Set<Symbol>? = nil) throws(ConfigError) -> SymbolRules {
        var known: Set<Symbol> = []
        if unknownSymbols == .reject {
            if let listed { known = listed } else { known = Set(try InstrumentList.load(path: instrumentsFile).map(\.symbol)) }
        }
        return SymbolRules(prefixes: stripPrefixes, suffixes: stripSuffixes,
                           aliases: aliases.mapValues { Symbol($0.uppercased()) },
                           known: known, unknownPolicy: unknownSymbols)
    }

    /// A normaliser with this configuration's zone, symbol rules and clock skew.
    /// `listing`, when given, is the list of listed instruments that changes while tickd runs.
    public func makeNormaliser(now: Timestamp, known: Set<Symbol>? = nil, listing: Listing? = nil) throws(ConfigError) -> Normaliser {
        var rules = try makeSymbolRules(known: known)
        rules.listing = listing
        return Normaliser(zone: try exchangeZone(), symbols: rules, maxFutureSkewSeconds: maxFutureSkewSeconds, now: now)
    }

    /// A decoder for one source; `format` overrides `input.format`.
    public func makeFeedDecoder(format: FeedFormat? = nil, normaliser: Normaliser) -> FeedDecoder {
        FeedDecoder(format: format ?? self.format, csv: csv, normaliser: normaliser, maxLineBytes: maxLineBytes)
    }
}

extension TickdConfig {
    /// The publisher settings, or nil when `REDIS_URL` is unset (publishing off).
    public func publisherOptions() throws(ConfigError) -> PublisherOptions? {
        guard let redisURL else { return nil }
        let url: RedisURL
        do { url = try RedisURL(parsing: redisURL) } catch {
            throw ConfigError(key: "REDIS_URL", "\(error.message) (form: redis[s]://[user:password@]host:port/db)")
        }
        var options = PublisherOptions(url: url, prefix: redisPrefix, maxBacklog: redisMaxBacklog,
                                       timeout: .milliseconds(redisTimeoutMilliseconds),
                                       maxBackoff: .milliseconds(redisRetryMaxBackoffMilliseconds))
        options.tls = RedisTLS(caFile: redisTLSCAFile, certFile: redisTLSCertFile, keyFile: redisTLSKeyFile)
        options.streamMaxLength = redisStreamMaxLength
        options.candlePrefix = redisLiveCandles ? redisCandlePrefix : nil
        return options
    }
}

extension TickdConfig {
    /// The candle refresher of the database at `url`, started; nil when its candles are plain
    /// views (no TimescaleDB), which need none.
    func candleRefresher(url: String) async throws -> CandleRefresher? {
        try await CandleRefresher.start(conninfo: url, options: schemaOptions, interval: .milliseconds(candleRefreshMilliseconds),
                                  maxBackoff: .milliseconds(retryMaxBackoffMilliseconds))
    }
}
