import Foundation
import Testing
import TestSupport
@testable import TickDaemon
import TickNormalisation
import TickSources
import Yams

@Suite struct ConfigOverrideTests {
    @Test func environmentOverridesTheFile() throws {
        var config = TickdConfig()
        try ConfigLoader.apply(yaml: "batch:\n  max_ticks: 100\n", to: &config)
        #expect(config.batchMaxTicks == 100)
        let loaded = try ConfigLoader.load(explicitPath: nil, environment: [
            "TICKD_BATCH_MAX_TICKS": "777", "TICKD_REDIS_PREFIX": "md:", "TICKD_INPUT_CSV_DELIMITER": ";",
            "TICKD_PG_SOCKET_DIR": "/tmp/ignored", "TICKD_FUZZ_RUNS": "1000", "TICKD_TIMESCALE": "off",
            "TICKD_TIMESCALE_REFRESH_INTERVAL_MS": "250"])
        #expect(loaded.batchMaxTicks == 777)
        #expect(loaded.candleRefreshMilliseconds == 250)
        #expect(loaded.redisPrefix == "md:")
        #expect(loaded.csv.delimiter == UInt8(ascii: ";"))
    }

    @Test func anUnknownOrBadEnvironmentVariableNamesItself() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(explicitPath: nil, environment: ["TICKD_BATCH_MAX_TICK": "1"]) }
        do {
            _ = try ConfigLoader.load(explicitPath: nil, environment: ["TICKD_BATCH_MAX_TICKS": "many"])
            Issue.record("expected an error")
        } catch {
            #expect(error.key == "TICKD_BATCH_MAX_TICKS")
            #expect(error.message.contains("whole number"))
        }
    }

    @Test func sourcesAreRead() throws {
        var config = TickdConfig()
        try ConfigLoader.apply(yaml: """
            sources:
              listen:
                - address: "127.0.0.1:7001"
                  format: csv
                  max_connections: 8
                  max_connections_per_peer: 2
                  idle_timeout_ms: 0
                  allow: [127.0.0.1, 10.0.0.0/8]
              connect:
                - address: "[::1]:9000"
                  subscribe: "SUBSCRIBE *"
                  retry_max_backoff_ms: 2000
              files:
                - path: Seeds/feeds/nse-2026-01-05.trades.csv
                  speed: 60x
            pipeline:
              max_queued_ticks: 1000
            """, to: &config)
        let listener = try #require(config.listeners.first)
        #expect(listener.port == 7001 && listener.format == .csv && listener.maxConnections == 8)
        #expect(listener.idleTimeout == nil)
        #expect(listener.allow?.allows("10.9.9.9") == true)
        #expect(config.upstreams.first?.host == "::1")
        #expect(config.upstreams.first?.subscribe == "SUBSCRIBE *")
        #expect(config.files.first?.speed == .times(60))
        #expect(config.maxQueuedTicks == 1000)
        // A Kafka source needs its brokers, topics and group; the error names the missing key.
        for (yaml, key) in [("sources:\n  kafka:\n    - { topics: [t], group: g }\n", "sources.kafka[0].brokers"),
                            ("sources:\n  kafka:\n    - { brokers: \"k:9092\", group: g }\n", "sources.kafka[0].topics"),
                            ("sources:\n  kafka:\n    - { brokers: \"k:9092\", topics: [t] }\n", "sources.kafka[0].group")] {
            var scratch = TickdConfig()
            let error = #expect(throws: ConfigError.self) { try ConfigLoader.apply(yaml: yaml, to: &scratch) }
            #expect(error?.key == key && error?.message == "is required", "\(String(describing: error))")
        }
        // librdkafka's settings are checked when the config is read: the key and librdkafka's reason.
        for (yaml, key, reason) in [("no.such.property: \"1\"", "sources.kafka[0].options.no.such.property", "No such configuration property"),
                                    ("session.timeout.ms: soon", "sources.kafka[0].options.session.timeout.ms", "Invalid value")] {
            var scratch = TickdConfig()
            let error = #expect(throws: ConfigError.self) {
                try ConfigLoader.apply(yaml: "sources:\n  kafka:\n    - brokers: \"k:9092\"\n      topics: [t]\n      group: g\n      options:\n        \(yaml)\n", to: &scratch)
            }
            #expect(error?.key == key && error?.message.contains(reason) == true, "\(String(describing: error))")
        }
        var good = TickdConfig()
        try ConfigLoader.apply(yaml: "sources:\n  kafka:\n    - brokers: \"k:9092\"\n      topics: [t]\n      group: g\n      options:\n        session.timeout.ms: \"6000\"\n", to: &good)
        #expect(good.kafka.first?.properties["session.timeout.ms"] == "6000")
        for bad in ["sources:\n  listen:\n    - address: nowhere\n", "sources:\n  listen:\n    - port: 1\n",
                    "sources:\n  files:\n    - path: x\n      speed: fast\n", "sources:\n  listen:\n    - address: ':1'\n      allow: [bogus]\n"] {
            var scratch = TickdConfig()
            #expect(throws: ConfigError.self) { try ConfigLoader.apply(yaml: bad, to: &scratch) }
        }
    }
}

@Suite struct ListenerTLSConfigTests {
    /// A listener's `tls` is read when the configuration is: an unusable file exits 2 naming
    /// the key; a good pair is kept with its handshake timeout.
    @Test func tlsFilesAreCheckedWhenTheConfigurationIsRead() throws {
        let certs = try TestCertificates()
        func listen(_ tls: String) -> String { "sources:\n  listen:\n    - address: \"127.0.0.1:0\"\n      tls: { \(tls) }\n" }
        for (tls, reason) in [("cert_file: /nowhere.crt, key_file: \(certs.serverKey)", "cannot be used"),
                              ("cert_file: \(certs.serverCert), key_file: \(certs.clientKey)", "cannot be used"),
                              ("cert_file: \(certs.serverCert)", "needs cert_file and key_file"),
                              ("cert_file: \(certs.serverCert), key_file: \(certs.serverKey), ciphers: all", "is not a key of tls"),
                              ("cert_file: \(certs.serverCert), key_file: \(certs.serverKey), handshake_timeout_ms: 5", "must be an integer")] {
            var scratch = TickdConfig()
            let error = #expect(throws: ConfigError.self) { try ConfigLoader.apply(yaml: listen(tls), to: &scratch) }
            #expect(error?.key.hasPrefix("sources.listen[0].tls") == true && error?.message.contains(reason) == true, "\(String(describing: error))")
        }
        var config = TickdConfig()
        try ConfigLoader.apply(yaml: listen("cert_file: \(certs.serverCert), key_file: \(certs.serverKey), client_ca_file: \(certs.caFile), handshake_timeout_ms: 2500"),
                               to: &config)
        #expect(config.listeners.first?.tls == ListenerTLS(certFile: certs.serverCert, keyFile: certs.serverKey, clientCAFile: certs.caFile,
                                                            handshakeTimeout: .milliseconds(2500)))
        #expect(config.listeners.first?.name.hasPrefix("tls://") == true)
    }
}

@Suite struct SecretFileTests {
    static func file(_ text: String) throws -> String {
        let path = TickdProcess.temporaryPath("secret")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `DATABASE_URL_FILE` / `REDIS_URL_FILE` (Docker and Kubernetes secrets): the file's content,
    /// trimmed; both forms at once, an unreadable or empty file exit 2 naming the variable.
    @Test func urlsComeFromFiles() throws {
        let database = try Self.file("postgresql://tickd:s3cret@db:5432/stocksoko\n"), redis = try Self.file("redis://:r3dis@cache:6379/0\n")
        let empty = try Self.file("# no keys: the defaults\n")
        let config = try ConfigLoader.load(explicitPath: empty, environment: ["DATABASE_URL_FILE": database, "REDIS_URL_FILE": redis])
        #expect(config.databaseURL == "postgresql://tickd:s3cret@db:5432/stocksoko" && config.redisURL == "redis://:r3dis@cache:6379/0")
        #expect(!config.effectiveYAML.contains("s3cret") && !config.effectiveYAML.contains("r3dis"))
        for (environment, key, reason) in [(["DATABASE_URL": "postgresql://x", "DATABASE_URL_FILE": database], "DATABASE_URL", "both set"),
                                           (["REDIS_URL_FILE": "/nowhere/redis_url"], "REDIS_URL_FILE", "cannot read"),
                                           (["DATABASE_URL_FILE": try Self.file(" \n")], "DATABASE_URL_FILE", "is empty")] {
            let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(explicitPath: empty, environment: environment) }
            #expect(error?.key == key && error?.message.contains(reason) == true, "\(String(describing: error))")
        }
    }

    /// A Kafka setting's secret from a file (`sasl.password_file`): librdkafka gets the content,
    /// check-config prints the file, never the secret.
    @Test func kafkaSecretsComeFromFilesAndAreNotPrinted() throws {
        let password = try Self.file("k4fka-pass\n")
        var config = TickdConfig()
        try ConfigLoader.apply(yaml: """
            sources:
              kafka:
                - brokers: "k:9092"
                  topics: [trades]
                  group: g
                  options:
                    security.protocol: SASL_SSL
                    sasl.mechanism: PLAIN
                    sasl.username: tickd
                    sasl.password_file: \(password)
            """, to: &config)
        #expect(config.kafka.first?.properties["sasl.password"] == "k4fka-pass")
        let printed = config.effectiveYAML
        #expect(!printed.contains("k4fka-pass") && printed.contains("sasl.password_file"), "\(printed)")
        var scratch = TickdConfig()
        let error = #expect(throws: ConfigError.self) {
            try ConfigLoader.apply(yaml: "sources:\n  kafka:\n    - brokers: \"k:9092\"\n      topics: [t]\n      group: g\n      options:\n        sasl.password_file: /nowhere\n",
                                   to: &scratch)
        }
        #expect(error?.key == "sources.kafka[0].options.sasl.password_file" && error?.message.contains("cannot read") == true, "\(String(describing: error))")
    }
}

@Suite struct ReliabilityConfigTests {
    @Test func journalLingerAndWritersAreReadAndChecked() throws {
        var config = TickdConfig()
        try ConfigLoader.apply(yaml: """
            journal:
              directory: /var/lib/tickd/journal
              segment_bytes: 1048576
              max_bytes: 4194304
              fsync: always
              fsync_interval_ms: 50
            batch:
              linger_ms: -1
            database:
              writers: 3
            """, to: &config)
        #expect(config.journalOptions.directory == "/var/lib/tickd/journal")
        #expect(config.journalOptions.segmentBytes == 1_048_576 && config.journalOptions.maxBytes == 4_194_304)
        #expect(config.journalOptions.fsync == .always && config.journalOptions.fsyncInterval == .milliseconds(50))
        #expect(config.batchLingerMilliseconds == nil)
        #expect(config.databaseWriters == 3)
        Self.expectRefused([("journal:\n  segment_bytes: 1048576\n  max_bytes: 1048576\n", "journal.max_bytes"),
                            ("journal:\n  fsync: sometimes\n", "journal.fsync"),
                            ("journal:\n  directory: \"\"\n", "journal.directory"),
                            ("database:\n  writers: 0\n", "database.writers"),
                            ("batch:\n  linger_ms: -2\n", "batch.linger_ms")])
    }

    @Test func statusMessagesHaveAPrefixOfTheirOwnAndHaltsAPolicy() throws {
        var config = TickdConfig()
        try ConfigLoader.apply(yaml: "redis:\n  prefix: \"prod:ticks:\"\n  status_prefix: \"prod:status:\"\nexchange:\n  halted_action: reject\n", to: &config)
        #expect(config.redisStatusPrefix == "prod:status:" && config.schemaOptions.priceCheck.onHalted == .reject)
        #expect(TickdConfig().schemaOptions.priceCheck.onHalted == .quarantine)
        // A PSUBSCRIBE ticks:* must not get status messages, nor the other way round.
        Self.expectRefused([("redis:\n  status_prefix: \"ticks:status:\"\n", "redis.status_prefix"),
                            ("redis:\n  prefix: \"status:ticks:\"\n", "redis.status_prefix"),
                            ("redis:\n  status_prefix: \"\"\n", "redis.status_prefix"),
                            ("exchange:\n  halted_action: hold\n", "exchange.halted_action")])
    }

    @Test func redisTLSFilesMustBeReadable() throws {
        var config = TickdConfig()
        try ConfigLoader.apply(yaml: "redis:\n  tls_ca_file: /etc/hostname\n  tls_cert_file: \"\"\n", to: &config)
        #expect(config.redisTLSCAFile == "/etc/hostname" && config.redisTLSCertFile == nil)
        Self.expectRefused([("redis:\n  tls_ca_file: /nonexistent/ca.pem\n", "redis.tls_ca_file"),
                            ("redis:\n  tls_key_file: /etc/hostname\n", "redis.tls_key_file")])
    }

    @Test func theExchangeProfileIsNSEByDefaultPlainOrAFile() throws {
        #expect(TickdConfig().exchangeProfile.closingPrice == .vwap(minimumVolume: 100))
        #expect(TickdConfig().exchangeProfile.tickSizes?.bands.count == 6)
        var config = TickdConfig()
        try ConfigLoader.apply(yaml: "exchange:\n  profile: plain\n", to: &config)
        #expect(config.exchangeProfile.closingPrice == .lastTrade && config.exchangeProfile.tickSizes == nil)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("profile-\(UUID().uuidString).yaml").path
        try "closing_price: vwap\nclosing_min_volume: 500\ntick_sizes:\n  - { from: \"0\", tick: \"0.10\" }\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ConfigLoader.apply(yaml: "exchange:\n  profile: \(path)\n", to: &config)
        #expect(config.exchangeProfile.closingPrice == .vwap(minimumVolume: 500) && config.exchangeProfile.name == path)
        #expect(config.exchangeProfile.tickSizes?.bands.map(\.tick.description) == ["0.10"])
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml").path
        try "closing_price: vwap\ntick_sizes:\n  - { from: \"1\", tick: \"0.10\" }\n".write(toFile: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        Self.expectRefused([("exchange:\n  profile: lse\n", "exchange.profile"),
                            ("exchange:\n  profile: /nonexistent/nse.yaml\n", "exchange.profile"),
                            ("exchange:\n  profile: \(bad)\n", "exchange.profile.tick_sizes")])
    }

    /// Each YAML text is refused, naming its key.
    static func expectRefused(_ cases: [(yaml: String, key: String)]) {
        for (bad, key) in cases {
            var scratch = TickdConfig()
            do {
                try ConfigLoader.apply(yaml: bad, to: &scratch)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.key == key, "\(bad)")
            }
        }
    }
}

/// What `check-config` prints is a configuration: read back, it gives the same configuration;
/// and `config/tickd.yaml` documents every key the environment can set.
@Suite struct EffectiveConfigTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The YAML part of `effectiveYAML` (without its header and the environment lines).
    static func body(_ config: TickdConfig) -> String {
        let lines = config.effectiveYAML.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.dropFirst().prefix { $0 != "# environment" }.joined(separator: "\n")
    }

    @Test func whatCheckConfigPrintsReadsBackToTheSameConfiguration() throws {
        var config = TickdConfig()
        try ConfigLoader.apply(yaml: String(contentsOf: Self.repositoryRoot.appendingPathComponent("config/tickd.yaml"), encoding: .utf8),
                               to: &config)
        // Every kind of list entry, with values away from the defaults.
        try ConfigLoader.apply(yaml: """
            exchange:
              profile: plain
              price_limit_action: reject
            sources:
              listen:
                - { address: "127.0.0.1:7001", format: csv, max_connections: 9, max_connections_per_peer: 3, idle_timeout_ms: 7000,
                    evict_after_ms: 0, max_line_bytes: 4096, allow: [127.0.0.1, 10.0.0.0/8] }
              connect:
                - { address: "feed.example:9000", format: ndjson, subscribe: "SUB ALL", retry_max_backoff_ms: 7000,
                    connect_timeout_ms: 1234, max_line_bytes: 2048 }
              files:
                - { path: /var/feeds/a.csv, format: csv, speed: 60x }
              kafka:
                - { brokers: "k1:9092,k2:9092", topics: [nse.trades, nse.quotes], group: tickd-a, format: ndjson, max_line_bytes: 8192,
                    options: { security.protocol: SASL_SSL, fetch.min.bytes: "1024" } }
            batch:
              linger_ms: -1
            redis:
              tls_ca_file: /etc/hostname
            """, to: &config)
        let printed = Self.body(config)
        var again = TickdConfig()
        try ConfigLoader.apply(yaml: printed, to: &again)
        #expect(Self.body(again) == printed)
        for needle in ["connect_timeout_ms: 1234", "max_line_bytes: 2048", "format: csv", "speed: 60x", "evict_after_ms: 0",
                       #"group: "tickd-a""#, #""security.protocol": "SASL_SSL""#, "max_line_bytes: 8192"] {
            #expect(printed.contains(needle), "\(needle)")
        }
    }

    @Test func configTickdYAMLDocumentsEveryKey() throws {
        let text = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("config/tickd.yaml"), encoding: .utf8)
        let tree = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(ConfigLoader.environmentKeys.count > 40)
        for key in ConfigKeys.all.map(\.path) {
            var node: Any? = tree
            for part in key.split(separator: ".") { node = (node as? [String: Any])?[String(part)] }
            #expect(node != nil, "config/tickd.yaml does not show \(key)")
        }
        // The keys of list entries are shown in the commented example under each list.
        let lines = text.split(separator: "\n").map(String.init)
        for (list, keys) in [("listen", ConfigKeys.listener.map(\.path)), ("connect", ConfigKeys.upstream.map(\.path)),
                             ("files", ConfigKeys.file.map(\.path)), ("kafka", ConfigKeys.kafka.map(\.path))] {
            let start = try #require(lines.firstIndex { $0.hasPrefix("  \(list):") })
            let example = lines[(start + 1)...].prefix { $0.hasPrefix("  #") }.joined(separator: "\n")
            for key in keys { #expect(example.contains(" \(key):"), "config/tickd.yaml shows no \(key) under sources.\(list)") }
        }
    }

    @Test func everyVariableIsCheckedLikeItsKeyAndNamedInErrors() throws {
        var checked = 0
        for key in ConfigKeys.all where key.environment {
            // Free-text keys (paths, names) take any text; every other key refuses this one.
            if case .text = key.value(TickdConfig()) { continue }
            let error = #expect(throws: ConfigError.self, "\(key.path)") {
                _ = try ConfigLoader.load(explicitPath: nil, environment: [key.variable: "not a value"])
            }
            #expect(error?.key == key.variable, "\(key.path): \(String(describing: error))")
            checked += 1
        }
        #expect(checked > 30)
    }
}
