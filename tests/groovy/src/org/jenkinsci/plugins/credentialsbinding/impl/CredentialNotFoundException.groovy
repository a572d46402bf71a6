package org.jenkinsci.plugins.credentialsbinding.impl

/** Same class name and message as the credentials-binding plugin's exception. */
class CredentialNotFoundException extends IOException {
    CredentialNotFoundException(String message) {
        super(message)
    }
}
