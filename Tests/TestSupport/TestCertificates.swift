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
        _ = try sign("server", commonName: "localhost", ca: "ca", extensions: "server")
        _ = try sign("client", commonName: "tickd", ca: "ca", extensions: "client")
    }

    /// A client certificate for `commonName` (a publisher's identity), signed by the test CA or,
    /// with `otherCA`, by the unrelated one; `days` -1 makes one that has already expired.
    public func clientCertificate(commonName: String, otherCA: Bool = false, days: Int = 2) throws -> (cert: String, key: String) {
        let name = "\(commonName.filter { $0.isLetter || $0.isNumber })-\(otherCA ? "other" : "ca")-\(days)"
        return try sign(name, commonName: commonName, ca: otherCA ? "other-ca" : "ca", extensions: "client", days: days)
    }

    /// A server certificate for 127.0.0.1 signed by the unrelated CA (a rotated certificate).
    public func otherServerCertificate() throws -> (cert: String, key: String) {
        try sign("server2", commonName: "localhost", ca: "other-ca", extensions: "server")
    }

    /// Sends `text` to a TLS server on 127.0.0.1:`port` with `openssl s_client`, verifying the
    /// server against `caFile` and presenting `client` when given; returns s_client's exit status
    /// and what it printed. It closes (close_notify) once `text` is sent.
    public static func sendOverTLS(_ text: String, port: Int, caFile: String, client: (cert: String, key: String)? = nil) throws -> (status: Int32, output: String) {
        let input = TickdProcess.temporaryPath("tls-input"), output = TickdProcess.temporaryPath("tls-output")
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: input); try? FileManager.default.removeItem(atPath: output) }
        var arguments = ["/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caFile, "-verify_return_error",
                         "-quiet", "-no_ign_eof"]
        if let client { arguments += ["-cert", client.cert, "-key", client.key] }
        let status = try PrivatePostgres.spawn(arguments, stdin: input, output: output)
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    /// A key and a certificate `<name>.key` / `<name>.crt` for `commonName`, signed by the CA
    /// `ca` (`ca` or `other-ca`) with the `extensions` section of ext.cnf, valid `days`.
    private func sign(_ name: String, commonName: String, ca: String, extensions: String, days: Int = 2) throws -> (cert: String, key: String) {
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(commonName)",
                     "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr"])
        try openssl(["x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", "\(directory)/\(ca).crt", "-CAkey", "\(directory)/\(ca).key",
                     "-CAcreateserial", "-days", String(days), "-extfile", "\(directory)/ext.cnf", "-extensions", extensions,
                     "-out", "\(directory)/\(name).crt"])
        return ("\(directory)/\(name).crt", "\(directory)/\(name).key")
    }

    /// posix_spawn + waitpid, as PrivatePostgres does: Foundation's Process, used from many
    /// tests at once, is not to be trusted to return from waitUntilExit.
    private func openssl(_ arguments: [String]) throws {
        try PrivatePostgres.run(["/usr/bin/openssl"] + arguments)
    }
}
