/** A script called a step the harness does not know: the test fails (Jenkins: "No such DSL method"). */
class UnregisteredStepError extends AssertionError {
    UnregisteredStepError(String message) {
        super((Object) message)
    }
}
