/** What a rejected `input` or an expired `timeout` throws in Jenkins: the build ends ABORTED. */
class FlowInterruptedException extends InterruptedException {
    FlowInterruptedException(String message) {
        super(message)
    }
}
