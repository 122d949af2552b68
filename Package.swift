// swift-tools-version:6.1
import PackageDescription

/// tickd — market-data ingestion daemon for Stock Soko (NSE).
/// Layout: C libraries behind thin system-library targets, one small Swift wrapper each,
/// then the tick domain (model → codecs → pipeline → sources/sinks → daemon → executable).
let package = Package(
    name: "tickd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tickd", targets: ["tickd"]),
        .executable(name: "tickd-bench", targets: ["tickd-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        // C libraries, found through pkg-config; apt names the Debian package to install.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // TLS to Redis (hiredis 0.14 has none): the system's OpenSSL behind a socketpair bridge.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMalloc"),
        // Kafka consumer groups (issue 19); librdkafka's mock cluster for the tests.
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),

        // The one primitive for blocking work: a serial executor on a dedicated thread.
        .target(name: "Blocking", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),

        // Swift owners of the C handles; they know nothing of ticks.
        .target(name: "LibPQ", dependencies: ["CLibPQ"]),
        .target(name: "Hiredis", dependencies: ["CHiredis", "COpenSSL", "Blocking"]),
        .target(name: "Zstd", dependencies: ["CZstd"]),
        .target(name: "Gzip", dependencies: ["CZlib"]),
        .target(name: "Kafka", dependencies: ["CRdKafka"]),

        // The tick domain.
        .target(name: "TickModel"),
        .target(name: "TickCodecs", dependencies: ["TickModel"]),
        .target(name: "TickNormalisation", dependencies: ["TickModel", "TickCodecs"]),
        .target(name: "TickSources", dependencies: [
            "TickModel", "TickCodecs", "TickNormalisation", "Zstd", "Gzip", "Blocking",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // Kafka consumer groups as a source (`sources.kafka`).
        .target(name: "TickKafka", dependencies: [
            "Kafka", "TickModel", "TickNormalisation", "TickSources", "Blocking", .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics")]),
        // The local journal of live feeds (segments, checksums, recovery).
        .target(name: "TickJournal", dependencies: [
            "TickModel", "TickNormalisation", "Zstd", "CZlib", "Blocking", .product(name: "Logging", package: "swift-log")]),
        .target(name: "TickSinks", dependencies: [
            "TickModel", "TickCodecs", "TickNormalisation", "LibPQ", "Hiredis", "Blocking",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // The engine: queue → batchers → writer lanes → publisher, with the ack ledger; it knows
        // nothing of configuration or the command line.
        .target(name: "TickEngine", dependencies: [
            "TickModel", "TickNormalisation", "TickSinks", "TickJournal", "Blocking",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        .target(name: "TickDaemon", dependencies: [
            "TickModel", "TickCodecs", "TickNormalisation", "TickSources", "TickSinks", "TickJournal", "TickKafka", "Kafka", "LibPQ", "TickEngine", "Blocking",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "tickd", dependencies: [
            "TickDaemon", "TickSources", "TickKafka", "TickCodecs", "TickModel", "TickNormalisation", "TickJournal", "CMalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The parsers under libFuzzer (scripts/fuzz.sh builds it with -sanitize=fuzzer,address in
        // .build-fuzz); in a normal build it runs corpus files through the same target.
        .executableTarget(name: "tickd-fuzz", dependencies: ["TickModel", "TickCodecs", "TickNormalisation"]),
        // Shares the test kit (socket, instrument list and grid) with the tests.
        .executableTarget(name: "tickd-bench", dependencies: [
            "TickModel", "TickCodecs", "TickNormalisation", "TickSources", "Hiredis", "TestSupport", "Kafka", "LibPQ",
        ]),

        // The test kit: helpers shared by test targets and tickd-bench (sockets, subscribers,
        // private servers, the instrument list).
        .target(name: "TestSupport", dependencies: [
            "Hiredis", .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/TestSupport"),
        .testTarget(name: "NativeLibraryTests", dependencies: ["LibPQ", "Hiredis", "Zstd", "Gzip", "Kafka", "TestSupport"]),
        .testTarget(name: "TickModelTests", dependencies: ["TickModel"]),
        .testTarget(name: "BlockingTests", dependencies: ["Blocking"]),
        .testTarget(name: "TickCodecsTests", dependencies: ["TickModel", "TickCodecs"]),
        .testTarget(name: "TickNormalisationTests", dependencies: [
            "TickModel", "TickCodecs", "TickNormalisation", "TickSources", "TickSinks", "Zstd", "Gzip"]),
        .testTarget(name: "TickSinksTests", dependencies: ["LibPQ", "TickModel", "TickNormalisation", "TickSinks", "TestSupport"]),
        .testTarget(name: "TickSourcesTests", dependencies: ["TickSources"]),
        .testTarget(name: "TickKafkaTests", dependencies: ["TickKafka", "Kafka", "TickModel", "TickCodecs", "TickNormalisation", "TickSources", "TestSupport"]),
        .testTarget(name: "TickJournalTests", dependencies: ["TickJournal", "TickModel", "TickNormalisation", "TestSupport"]),
        .testTarget(name: "TickDaemonTests", dependencies: ["TickDaemon", "TickEngine", "TickModel", "TickNormalisation", "TickSources", "TestSupport",
                                                          .product(name: "Yams", package: "Yams")]),
        // Against the real PostgreSQL (and later Redis) the test command starts.
        .testTarget(name: "IntegrationTests", dependencies: [
            "LibPQ", "Hiredis", "Kafka", "TickModel", "TickNormalisation", "TickSinks", "TickDaemon", "TickEngine", "TestSupport", "Blocking",
            .product(name: "Logging", package: "swift-log")]),
        // One folder per case: input + options + expected ticks or reject reasons.
        .testTarget(name: "FeedFixtureTests", dependencies: ["TickModel", "TickCodecs", "TickNormalisation", "TickDaemon"],
                    resources: [.copy("Fixtures")]),
        // The built `tickd` binary and the sample feeds of Seeds/.
        .testTarget(name: "TickdCLITests", dependencies: ["TickModel", "TickNormalisation", "TickDaemon", "Gzip", "TestSupport",
                                                         .product(name: "Yams", package: "Yams")]),
    ],
    swiftLanguageModes: [.v6]
)
