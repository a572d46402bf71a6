package io.pipelinepy

import com.cloudbees.groovy.cps.NonCPS

/** What a pipeline-py exit code, or an abort, means for the build: the messages the steps print. */
class Outcomes implements Serializable {

    private static final long serialVersionUID = 1L

    /** Commands whose exit 1 means "the deploy failed and the service was rolled back". */
    static final List DEPLOY_COMMANDS = ['deploy', 'deploy promote', 'deploy abort', 'rollback']

    /** Commands that change something outside the workspace: an abort can leave them half-done. */
    static final List CHANGING_COMMANDS = [
        'deploy', 'deploy promote', 'deploy abort', 'rollback',
        'terraform apply', 'run-task', 'jenkins sync', 'jenkins preflight',
    ]

    /** Commands whose exit 1 is a verdict (a gate closed, problems found), not an operation that failed. */
    static final List VERDICT_COMMANDS = ['scan', 'diagnose', 'db check']

    /** The exit code WAIT_SCRIPT reports when pipeline-py has not finished within the grace period. */
    static final int STILL_RUNNING = 124

    /**
     * 1 failed (for deploys: rolled back safely), 2 configuration error, 3 manual action
     * required; anything else is pipeline-py crashing or being killed.
     */
    @NonCPS
    static String failureMessage(String command, int code, Map result) {
        String detail = detailOf(result)
        switch (code) {
            case 1:
                if (command == 'deploy abort') {
                    return "pipeline-py deploy abort rolled the paused deploy back safely: ${detail}".toString()
                }
                if (command in VERDICT_COMMANDS) {
                    return "pipeline-py ${command} failed: ${detail}".toString()
                }
                if (command in DEPLOY_COMMANDS || result.status == 'rolled_back') {
                    return "pipeline-py ${command} failed and was rolled back safely: ${detail}".toString()
                }
                return "pipeline-py ${command} failed (nothing was left half-done): ${detail}".toString()
            case 2:
                return "pipeline-py configuration error: ${detail}".toString()
            case 3:
                return ("MANUAL ACTION REQUIRED: pipeline-py ${command} failed and could not restore a safe " +
                    "state: ${detail}").toString()
            default:
                return "pipeline-py ${command} exited with ${code}: ${detail}".toString()
        }
    }

    @NonCPS
    static String detailOf(Map result) {
        return (result?.message ?: result?.reason ?: result?.status ?: 'no message').toString()
    }

    /**
     * The state an abort (or a stage timeout) left: [manual: true when a human has to look,
     * state: a few words for the build description, message: the log line].
     *
     * @param run [command:, env:, resultFile:] of the interrupted run
     * @param code pipeline-py's exit code, STILL_RUNNING when it had not finished within
     *     graceSeconds, or null when the wait itself was interrupted
     * @param result its JSON result, or null
     */
    @NonCPS
    static Map abortOutcome(Map run, Integer code, Map result, long graceSeconds) {
        String command = run.command
        String env = run.env
        String target = env ? " (env ${env})" : ''
        boolean changing = command in CHANGING_COMMANDS
        String what = "pipeline-py ${command}${target} was interrupted by the abort/timeout"
        if (code == null || code == STILL_RUNNING || (result == null && code == 0)) {
            if (!changing) {
                return [manual: false, state: 'aborted, nothing to restore',
                        message: ("${what}; it changes nothing outside the workspace, " +
                            'so nothing needs restoring').toString()]
            }
            String waited = code == null ? 'the wait for it was interrupted too' :
                "it had not finished restoring a safe state after ${graceSeconds}s".toString()
            return [manual : true, state: 'ABORTED, MANUAL ACTION REQUIRED',
                    message: ("MANUAL ACTION REQUIRED: ${what} and ${waited}; it goes on running on the agent " +
                        "(not killed by Jenkins) and writes its result to ${run.resultFile}. Check the service " +
                        "(pipeline-py status${env ? ' --env ' + env : ''}) before deploying again.").toString()]
        }
        String detail = detailOf(result)
        switch (code) {
            case 0:
                String status = result?.status ?: 'ok'
                return [manual: false, state: "finished (${status}) before the abort took effect".toString(),
                        message: "${what}, but it had already finished: ${detail}".toString()]
            case 1:
                if (result?.status == 'aborted') {
                    return [manual: false, state: 'aborted, nothing was in progress',
                            message: "${what}; nothing was in progress that needed restoring: ${detail}".toString()]
                }
                boolean rolledBack = command in DEPLOY_COMMANDS || result?.status == 'rolled_back'
                return rolledBack ?
                    [manual: false, state: 'aborted, rolled back safely',
                     message: "${what} and rolled back safely: ${detail}".toString()] :
                    [manual : false, state: 'aborted, nothing left half-done',
                     message: "${what} and stopped cleanly (nothing left half-done): ${detail}".toString()]
            case 2:
                return [manual: false, state: 'aborted, configuration error',
                        message: "${what}; it had stopped on a configuration error: ${detail}".toString()]
            case 3:
                return [manual : true, state: 'ABORTED, MANUAL ACTION REQUIRED',
                        message: ("MANUAL ACTION REQUIRED: ${what} and could not restore a safe state: " +
                            "${detail}").toString()]
            default:
                String state = changing ? 'ABORTED, MANUAL ACTION REQUIRED' : "aborted (exit ${code})"
                return [manual : changing, state: state,
                        message: ((changing ? 'MANUAL ACTION REQUIRED: ' : '') +
                            "${what} and exited with ${code}: ${detail}").toString()]
        }
    }

}
