import io.pipelinepy.Outcomes

/** src/io/pipelinepy/Outcomes.groovy, called directly: exit codes and aborts in words. */
class OutcomesTest {
    void testFailureMessages() {
        assert Outcomes.failureMessage('deploy', 1, [message: 'x']) == 'pipeline-py deploy failed and was rolled back safely: x'
        assert Outcomes.failureMessage('build', 1, [reason: 'y']) == 'pipeline-py build failed (nothing was left half-done): y'
        assert Outcomes.failureMessage('build', 1, [status: 'rolled_back']) == 'pipeline-py build failed and was rolled back safely: rolled_back'
        assert Outcomes.failureMessage('render', 2, [:]) == 'pipeline-py configuration error: no message'
        assert Outcomes.failureMessage('rollback', 3, [message: 'z']).startsWith('MANUAL ACTION REQUIRED: pipeline-py rollback failed')
        assert Outcomes.failureMessage('status', 137, [message: 'killed']) == 'pipeline-py status exited with 137: killed'
        // issue 14/16/17: exit 1 of a gate is its verdict; exit 1 of `deploy abort` is what it was asked to do
        assert Outcomes.failureMessage('scan', 1, [message: 'image scan gate: CVE-1']) == 'pipeline-py scan failed: image scan gate: CVE-1'
        assert Outcomes.failureMessage('diagnose', 1, [message: 'd']) == 'pipeline-py diagnose failed: d'
        assert Outcomes.failureMessage('deploy abort', 1, [message: 'back on :6']) ==
            'pipeline-py deploy abort rolled the paused deploy back safely: back on :6'
        assert Outcomes.failureMessage('deploy abort', 3, [message: 'm']).startsWith('MANUAL ACTION REQUIRED: pipeline-py deploy abort failed')
    }

    void testAbortOutcomes() {
        Closure outcome = { String cmd, Integer code, Map result -> Outcomes.abortOutcome([command: cmd, env: 'prod', resultFile: 'r.json'], code, result, 660) }
        assert outcome('deploy', 1, [status: 'rolled_back', message: 'm']).state == 'aborted, rolled back safely'
        assert outcome('deploy', 1, [status: 'aborted', message: 'nothing in progress']).state == 'aborted, nothing was in progress'
        assert outcome('terraform apply', 1, [status: 'error', message: 'm']).state == 'aborted, nothing left half-done'
        assert outcome('deploy', 2, [message: 'm']).state == 'aborted, configuration error'
        assert outcome('deploy', 3, [message: 'm']).manual
        assert outcome('deploy', 0, [status: 'succeeded']).state == 'finished (succeeded) before the abort took effect'
        assert outcome('deploy', 0, null).manual  // exit 0 without a result: nobody knows
        assert outcome('deploy', Outcomes.STILL_RUNNING, null).message.contains('after 660s')
        assert outcome('deploy', null, null).message.contains('the wait for it was interrupted too')
        assert outcome('render', Outcomes.STILL_RUNNING, null) ==
            [manual: false, state: 'aborted, nothing to restore',
             message: 'pipeline-py render (env prod) was interrupted by the abort/timeout; it changes nothing outside the workspace, so nothing needs restoring']
        assert outcome('deploy', 137, [message: 'killed']).state == 'ABORTED, MANUAL ACTION REQUIRED'
        assert outcome('build', 137, [message: 'killed']) ==
            [manual: false, state: 'aborted (exit 137)',
             message: 'pipeline-py build (env prod) was interrupted by the abort/timeout and exited with 137: killed']
        assert Outcomes.abortOutcome([command: 'status', env: null, resultFile: 'r'], 1, [status: 'aborted'], 60).message.startsWith('pipeline-py status was interrupted')
    }
}
