package org.jenkinsci.plugins.workflow.steps

/**
 * What an abort, a rejected `input`, an expired `timeout` or a milestone cancellation throws in
 * Jenkins (same package and name as workflow-step-api's, so library code can catch it): the
 * build ends ABORTED.
 */
class FlowInterruptedException extends InterruptedException {
    FlowInterruptedException(String message) {
        super(message)
    }
}
