import Foundation

/// A certificate authority made by a test (with the `openssl` command), a server certificate for
/// 127.0.0.1 and localhost, a client certificate, and an unrelated CA that trusts neither.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caFile: String { "\(directory)/ca.crt" }
    public var otherCAFile: String { "\(directory)/other-ca.crt" }
    public var serverCert: String { "\(directory)/server.crt" }
    public var serverKey: String { "\(directory)/server.key" }
    public var clientCert: String { "\(directory)/client.crt" }
    public var clientKey: String { "\(directory)/client.key" }

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tickd-tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            [server]
            subjectAltName = IP:127.0.0.1, DNS:localhost
            extendedKeyUsage = serverAuth
            [client]
            extendedKeyUsage = clientAuth

            """.write(toFile: "\(directory)/ext.cnf", atomically: true, encoding: .utf8)
        for ca in ["ca", "other-ca"] {
            try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tickd test \(ca)",
                         "-keyout", "\(directory)/\(ca).key", "-out", "\(directory)/\(ca).crt"])
        }
        for (name, section) in [("server", "server"), ("client", "client")] {
            try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(name == "server" ? "localhost" : "tickd")",
                         "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr"])
            try openssl(["x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", caFile, "-CAkey", "\(directory)/ca.key",
                         "-CAcreateserial", "-days", "2", "-extfile", "\(directory)/ext.cnf", "-extensions", section,
                         "-out", "\(directory)/\(name).crt"])
        }
    }

    /// posix_spawn + waitpid, as PrivatePostgres does: Foundation's Process, used from many
    /// tests at once, is not to be trusted to return from waitUntilExit.
    private func openssl(_ arguments: [String]) throws {
        try PrivatePostgres.run(["/usr/bin/openssl"] + arguments)
    }
}
