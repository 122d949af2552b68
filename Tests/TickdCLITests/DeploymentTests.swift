import Foundation
import Testing
import TestSupport
import Yams

/// The deployment files: what can be checked without systemd as PID 1 or a Docker engine.
@Suite(.ownThreads) struct DeploymentTests {
    static let root = TickdProcess.repositoryRoot

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func systemdAnalyzeVerifyAcceptsTheUnitWithoutAWord() throws {
        let analyze = "/usr/bin/systemd-analyze"
        try #require(FileManager.default.isExecutableFile(atPath: analyze), "scripts/test.sh installs systemd for systemd-analyze")
        let unit = FileManager.default.temporaryDirectory.appendingPathComponent("tickd.service").path
        // verify checks that ExecStart exists: point it at the binary just built.
        try Self.text("deploy/systemd/tickd.service").replacingOccurrences(of: "/usr/local/bin/tickd", with: TickdProcess.binary.path)
            .write(toFile: unit, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: analyze)
        process.arguments = ["verify", unit]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0)
        #expect(said.isEmpty, "systemd-analyze: \(said)")   // it only warns on bad keys and values
    }

    @Test func theUnitHasTheSettingsTheREADMEPromises() throws {
        let unit = try Self.text("deploy/systemd/tickd.service")
        let settings = Dictionary(unit.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains("=") }
            .map { line -> (String, String) in
                let parts = line.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), String(parts.count > 1 ? parts[1] : ""))
            }, uniquingKeysWith: { first, _ in first })
        #expect(settings["Type"] == "notify")
        #expect(settings["Restart"] == "on-failure")
        #expect(settings["WatchdogSec"] != nil)
        let stop = try #require(settings["TimeoutStopSec"].flatMap { Int($0.dropLast()) })
        #expect(stop > 15)                                   // longer than shutdown.drain_timeout_ms (15 s)
        for key in ["EnvironmentFile", "StateDirectory", "MemoryMax", "RestrictAddressFamilies"] { #expect(settings[key] != nil, "\(key)") }
        for key in ["DynamicUser", "NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"] { #expect(settings[key] == "yes", "\(key)") }
        #expect(settings["ProtectSystem"] == "strict")
        #expect(unit.contains("LoadCredential=database_url:"))
    }

    @Test func theComposeStackParsesWithEveryServiceHealthCheckAndPort() throws {
        let compose = try #require(try Yams.load(yaml: Self.text("deploy/docker-compose.yml")) as? [String: Any])
        let services = try #require(compose["services"] as? [String: Any])
        #expect(Set(services.keys) == ["timescaledb", "redis", "tickd"])
        for (name, value) in services {
            let service = try #require(value as? [String: Any])
            #expect(service["healthcheck"] != nil, "\(name) has no health check")
        }
        let timescale = try #require(services["timescaledb"] as? [String: Any])
        #expect((timescale["image"] as? String)?.hasPrefix("timescale/timescaledb") == true)
        #expect((timescale["volumes"] as? [String])?.first?.hasPrefix("timescaledb-data:") == true)
        #expect((compose["volumes"] as? [String: Any])?["timescaledb-data"] != nil)
        let tickd = try #require(services["tickd"] as? [String: Any])
        let dependsOn = try #require(tickd["depends_on"] as? [String: [String: String]])
        #expect(dependsOn["timescaledb"]?["condition"] == "service_healthy")
        #expect(dependsOn["redis"]?["condition"] == "service_healthy")
        #expect((tickd["ports"] as? [String])?.contains("7001:7001") == true)
        let entrypoint = (tickd["entrypoint"] as? [String])?.joined(separator: " ") ?? ""
        #expect(entrypoint.contains("tickd migrate && tickd seed && exec tickd run"))
        let environment = try #require(tickd["environment"] as? [String: String])
        #expect(environment["DATABASE_URL"]?.contains("@timescaledb:5432/") == true)
        #expect(environment["REDIS_URL"] == "redis://redis:6379/0")
        // The README shows this command.
        #expect(try Self.text("README.md").contains("docker compose -p tickd -f deploy/docker-compose.yml up"))
    }

    /// The packages of an `apt-get install` line of the Dockerfile whose comment above it starts with `marker`.
    static func dockerPackages(after marker: String, in dockerfile: String) -> Set<String> {
        let lines = dockerfile.split(separator: "\n").map(String.init)
        guard let index = lines.firstIndex(where: { $0.hasPrefix("# \(marker)") }),
              let install = lines[index...].first(where: { $0.contains("apt-get install") }) else { return [] }
        let after = install.components(separatedBy: "--no-install-recommends").last ?? ""
        return Set(after.components(separatedBy: "&&")[0].split(separator: " ").map(String.init).filter { $0 != "\\" })
    }

    @Test func theDockerfilePackagesMatchWhatTheTestCommandInstalls() throws {
        let dockerfile = try Self.text("deploy/docker/Dockerfile")
        #expect(dockerfile.components(separatedBy: "\nFROM ").count == 3)            // two stages
        #expect(dockerfile.contains("\nUSER tickd"))                                  // not root
        let script = try Self.text("scripts/lib/services.sh")
        let start = try #require(script.range(of: "APT_PACKAGES=("))
        let end = try #require(script[start.upperBound...].firstIndex(of: ")"))
        let installed = Set(script[start.upperBound..<end].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        let build = Self.dockerPackages(after: "build packages", in: dockerfile)
        #expect(build == ["pkg-config", "libpq-dev", "libhiredis-dev", "libssl-dev", "libzstd-dev", "zlib1g-dev", "librdkafka-dev"])
        #expect(build.isSubset(of: installed), "build packages missing from scripts/lib/services.sh: \(build.subtracting(installed))")
        let runtime = Self.dockerPackages(after: "runtime packages", in: dockerfile)
        #expect(runtime == ["libpq5", "libhiredis0.14", "libssl3", "libzstd1", "zlib1g", "librdkafka1", "libstdc++6", "tzdata", "ca-certificates"])
        // Each runtime library is what the -dev package the tests build against depends on.
        for (dev, library) in [("libpq-dev", "libpq5"), ("libhiredis-dev", "libhiredis0.14"), ("libssl-dev", "libssl3"),
                               ("libzstd-dev", "libzstd1"), ("librdkafka-dev", "librdkafka1")] {
            let depends = try Self.shell("dpkg-query -W -f='${Depends}' \(dev)")
            #expect(depends.contains(library), "\(dev) depends on \(depends), not \(library)")
        }
    }

    static func shell(_ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}
