/** What the `error` step throws in Jenkins (hudson.AbortException): fails the build with a message. */
class AbortException extends IOException {
    AbortException(String message) {
        super(message)
    }
}
