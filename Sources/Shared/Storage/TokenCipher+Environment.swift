import ProcessEnvironment

extension TokenCipher {
    /// Reads `TOKEN_ENCRYPTION_KEYS` (`id:base64-32-byte-key[,…]`: the first seals, all open); nil when it is unset.
    public static func fromEnvironment(_ environment: Environment) throws(ConfigurationError) -> TokenCipher? {
        guard let specification = environment.optional("TOKEN_ENCRYPTION_KEYS") else { return nil }
        do {
            return try TokenCipher(specification: specification)
        } catch {
            throw ConfigurationError(variable: "TOKEN_ENCRYPTION_KEYS", reason: "is invalid: \(error) (expected id:base64-32-byte-key[,…])")
        }
    }
}
