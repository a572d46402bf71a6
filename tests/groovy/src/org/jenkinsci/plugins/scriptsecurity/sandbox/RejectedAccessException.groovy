package org.jenkinsci.plugins.scriptsecurity.sandbox

/**
 * What script-security throws for a call its whitelists do not permit (same package, name and
 * message form), thrown by the harness' sandbox check (SandboxCheck) for a call of the library
 * that tests/groovy/sandbox-allowlist.txt does not list.
 */
class RejectedAccessException extends SecurityException {
    final String signature

    RejectedAccessException(String signature, String where) {
        super("Scripts not permitted to use ${signature} (${where}; add it to tests/groovy/sandbox-allowlist.txt " +
            'only if script-security allows it, see the file\'s header)')
        this.signature = signature
    }
}
