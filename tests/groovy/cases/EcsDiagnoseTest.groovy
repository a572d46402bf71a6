/** vars/ecsDiagnose.groovy: the troubleshooting runbook (pipeline-py diagnose). Issue 17. */
class EcsDiagnoseTest extends EnvStepTestSupport {
    EcsDiagnoseTest() {
        super('ecsDiagnose', [env: 'prod'], 'diagnose')
    }

    static Map problems(String env) {
        return [code: 1, result: [status: 'problems', env: env, verdict: 'problems', problems: ['error_rate', 'database'],
                                  unknown: ['resources'], checks: [[name: 'error_rate'], [name: 'database'], [name: 'resources']],
                                  message: "diagnose ${env}: 2 problem(s) found: error_rate, database".toString()]]
    }

    void testAHealthyEnvironmentIsReturnedAndArchived() {
        responses.diagnose = [env: 'prod', verdict: 'ok', problems: [], unknown: [], checks: [[name: 'service'], [name: 'targets']]]
        Map r = h.vars.ecsDiagnose.call(env: 'prod', since: '15m', only: ['service', 'targets'], connect: false, filter: 'ERROR')
        assert r.verdict == 'ok'
        assert runOf('diagnose').params == [env: 'prod', since: '15m', only: ['service', 'targets'], filter: 'ERROR',
                                            'no-connect': true]
        assert h.archived == ['pipeline-py-reports/diagnose-prod.json']
        assert h.log.contains('ecsDiagnose (prod): no problems (2 checks)')
        assert h.currentBuild.result == null
    }

    void testProblemsMakeTheBuildUnstableAndTheResultIsReturned() {
        responses.diagnose = problems('prod')
        Map r = h.vars.ecsDiagnose.call(env: 'prod')
        assert runOf('diagnose').params == [env: 'prod']  // connect (the default) adds nothing
        assert r.problems == ['error_rate', 'database'] && r.exit_code == 1
        assert h.currentBuild.result == 'UNSTABLE'
        assert h.log.contains('ecsDiagnose (prod): 2 problem(s): error_rate, database; 1 check(s) could not tell: resources')
        assert h.log.contains('WARNING: ecsDiagnose (prod): diagnose prod: 2 problem(s) found: error_rate, database')
        assert h.archived == ['pipeline-py-reports/diagnose-prod.json']
    }

    void testFailOnProblemsFailsTheBuild() {
        responses.diagnose = problems('staging')
        Map r = attempt([env: 'staging', failOnProblems: true, report: 'verify-staging.json'])
        assert r.error == 'pipeline-py diagnose failed: diagnose staging: 2 problem(s) found: error_rate, database'
        assert h.currentBuild.result == 'FAILURE'
        assert h.archived == ['pipeline-py-reports/verify-staging.json']
    }

    void testAConfigurationErrorFailsEvenWithoutFailOnProblems() {
        responses.diagnose = [code: 2, result: [status: 'error', message: "--only memory: unknown check (known: ...)"]]
        Map r = attempt([env: 'prod', only: ['memory']])
        assert r.error == 'pipeline-py configuration error: --only memory: unknown check (known: ...)'
    }
}
