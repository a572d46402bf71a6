import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

/**
 * Issue A.3: an abort or a stage timeout while pipeline-py runs. Jenkins stops an `sh` step by
 * sending SIGTERM to every process that carries the step's JENKINS_SERVER_COOKIE, then SIGKILL
 * after core's SoftKillWaitSeconds (5 s): mid-canary, that used to kill pipeline-py before it had
 * moved the traffic back, and the FlowInterruptedException skipped every report.
 */
class AbortTest {
    PipelineHarness h = new PipelineHarness()

    // ---- what the build says (harness: the abort arrives as FlowInterruptedException from sh) --

    void testAnAbortedTerraformApplyThatDidNotFinishAsksForAHuman() {
        h.fakePipelinePy { cmd, p, e -> [abort: 'Aborted by alice', finishes: false] }
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'terraform apply', env: 'prod', params: ['plan-file': 'p.bin']) }
        assert r.interrupted == 'Aborted by alice'
        assert h.currentBuild.description == 'prod: terraform apply \u00b7 ABORTED, MANUAL ACTION REQUIRED'
        assert h.log.any { it.startsWith('MANUAL ACTION REQUIRED: pipeline-py terraform apply (env prod) was interrupted') &&
            it.contains('had not finished restoring a safe state after 60s') }
        Map wait = h.callsTo('sh').find { it.env.PP_GRACE }
        assert h.named(wait).script == h.vars.pipelinePy.WAIT_SCRIPT
        assert wait.env.PP_EXIT == '.pipeline-py/jenkins/1-terraform-apply.exit'
    }

    void testAnAbortedBuildStepChangesNothingOutsideTheWorkspace() {
        h.fakePipelinePy { cmd, p, e -> [abort: 'Aborted by alice', finishes: false] }
        Map r = h.attempt { h.vars.buildImage.call() }
        assert r.interrupted == 'Aborted by alice'
        assert h.currentBuild.description == null
        assert h.log.any { it == 'pipeline-py build was interrupted by the abort/timeout; it changes nothing outside the workspace, so nothing needs restoring' }
    }

    void testARollbackThatFinishesWithinTheGraceIsReportedAsSafe() {
        h.fakePipelinePy { cmd, p, e ->
            [abort: 'Aborted by alice', code: 1, result: [status: 'rolled_back', message: 'aborted by SIGTERM; traffic moved back']]
        }
        Map r = h.attempt { h.vars.ecsDeploy.call(env: 'prod', strategy: 'canary', image: 'repo/task-api@sha256:' + ('1' * 64), rollbackTimeout: '5m') }
        assert r.interrupted
        assert h.currentBuild.description == 'prod: task-api@sha256:111111111111 \u00b7 canary \u00b7 aborted, rolled back safely'
        assert h.callsTo('sh').find { it.env.PP_GRACE }.env.PP_GRACE == '360'  // rollbackTimeout + 60 s
        assert h.archived == ['pipeline-py-reports/deploy-prod.json']
    }

    void testDescriptionFalseLeavesTheDescriptionAlone() {
        h.fakePipelinePy { cmd, p, e -> [abort: 'Aborted by alice', code: 3, result: [status: 'failed', message: 'stuck']] }
        h.attempt { h.vars.ecsRollback.call(env: 'prod', description: false) }
        assert h.currentBuild.description == null
        assert h.log.any { it.startsWith('MANUAL ACTION REQUIRED: pipeline-py rollback (env prod) was interrupted by the abort/timeout and could not restore a safe state: stuck') }
    }

    void testASecondAbortDuringTheWaitStillReportsWhatIsKnown() {
        h.fakePipelinePy { cmd, p, e -> [abort: 'Aborted by alice', finishes: false] }
        Closure fake = h.shHandler
        h.shHandler = { Map sh, Map env, File cwd ->
            if (env.PP_GRACE) {
                throw new FlowInterruptedException('Aborted by alice (again)')
            }
            fake.call(sh, env, cwd)
        }
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'deploy promote', env: 'prod') }
        assert r.interrupted == 'Aborted by alice'
        assert h.currentBuild.description == 'prod: deploy promote \u00b7 ABORTED, MANUAL ACTION REQUIRED'
        assert h.log.any { it.contains('the wait for it was interrupted too') }
    }

    void testPipelinePyThatFinishedJustBeforeTheAbortIsNotBlamed() {
        h.fakePipelinePy { cmd, p, e -> [abort: 'Aborted by alice', code: 0, result: [status: 'succeeded']] }
        h.attempt { h.vars.pipelinePy.call(command: 'deploy', env: 'qa', description: 'qa: my line') }
        assert h.currentBuild.description == 'qa: my line \u00b7 finished (succeeded) before the abort took effect'
    }

    // ---- the real thing: RUN_SCRIPT under a real shell, killed the way Jenkins kills it -------

    File dir

    File stub(String name, String body) {
        File f = new File(dir, name)
        f.text = '#!/bin/sh\n' + body
        f.setExecutable(true)
        return f
    }

    Map<String, String> runEnv(File pipelinePy, String cookie) {
        return [
            PATH                 : System.getenv('PATH'),
            PIPELINE_PY          : pipelinePy.absolutePath,
            PP_COMMAND           : 'deploy',
            PP_PARAMS            : 'params.json',
            PP_RESULT            : 'out/result.json',
            PP_EXIT              : 'out/deploy.exit',
            JENKINS_SERVER_COOKIE: cookie,
            JENKINS_NODE_COOKIE  : 'node-' + cookie,
            MARKER               : new File(dir, 'started').absolutePath,
        ]
    }

    Process shell(String script, Map<String, String> env) {
        File f = new File(dir, "script-${System.nanoTime()}.sh")
        f.text = script
        ProcessBuilder pb = new ProcessBuilder(['sh', '-xe', f.absolutePath]).directory(dir)
        pb.environment().clear()
        pb.environment().putAll(env)
        pb.redirectErrorStream(true).redirectOutput(new File(dir, "${f.name}.log"))
        return pb.start()
    }

    /** Jenkins' process-tree killer: SIGTERM to every process with the cookie, SIGKILL after the soft-kill wait. */
    static List<String> killLikeJenkins(String cookie, long softKillWaitMillis) {
        List<String> pids = new File('/proc').listFiles().findAll { it.name ==~ /\d+/ }.findAll { File p ->
            try {
                new String(new File(p, 'environ').bytes, 'UTF-8').split('\u0000').contains('JENKINS_SERVER_COOKIE=' + cookie)
            } catch (IOException ignored) {
                false
            }
        }*.name
        pids.each { ['kill', '-TERM', it].execute().waitFor() }
        Thread.sleep(softKillWaitMillis)
        pids.each { ['kill', '-KILL', it].execute().waitFor() }
        return pids
    }

    static void waitFor(Closure<Boolean> condition, String what) {
        long deadline = System.currentTimeMillis() + 15000
        while (!condition.call()) {
            assert System.currentTimeMillis() < deadline: "timed out waiting for ${what}"
            Thread.sleep(50)
        }
    }

    void testRunScriptPassesTheAbortToPipelinePyAndOutlivesTheKiller() {
        dir = File.createTempDir('abort', '')
        try {
            // pipeline-py's contract: SIGTERM means "roll back, then print the result and exit 1"
            File pp = stub('pipeline-py', '''
trap 'sleep 1; echo "{\\"status\\": \\"rolled_back\\", \\"message\\": \\"aborted by SIGTERM\\"}"; exit 1' TERM
touch "$MARKER"
i=0
while [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
echo '{"status": "succeeded"}'
''')
            new File(dir, 'params.json').text = '{}'
            new File(dir, 'out').mkdirs()
            new File(dir, 'out/result.json').text = '{"status": "stale"}'
            String cookie = "durable-${UUID.randomUUID()}"
            Process sh = shell(h.vars.pipelinePy.RUN_SCRIPT, runEnv(pp, cookie))
            waitFor({ new File(dir, 'started').exists() }, 'pipeline-py to start')
            assert new File(dir, 'out/result.json').text == ''  // the stale result went first (the redirect made a new one)

            List<String> killed = killLikeJenkins(cookie, 300)  // SoftKillWaitSeconds (5 s), shortened; shorter than the rollback
            assert killed: 'the step had no process with its cookie'
            sh.waitFor()
            // pipeline-py (without the cookie) survived the SIGKILL and is rolling back
            Process wait = shell(h.vars.pipelinePy.WAIT_SCRIPT, [PATH: System.getenv('PATH'), PP_EXIT: 'out/deploy.exit', PP_GRACE: '15'])
            assert wait.waitFor() == 1
            assert new File(dir, 'out/result.json').text.trim() == '{"status": "rolled_back", "message": "aborted by SIGTERM"}'
        } finally {
            dir.deleteDir()
        }
    }

    void testRunScriptReturnsPipelinePysExitCodeAndWaitReportsAnUnfinishedRun() {
        dir = File.createTempDir('abort', '')
        try {
            File pp = stub('pipeline-py', 'echo "{\\"argv\\": \\"$*\\"}"\nexit 2\n')
            new File(dir, 'params.json').text = '{}'
            Process sh = shell(h.vars.pipelinePy.RUN_SCRIPT, runEnv(pp, 'durable-x'))
            assert sh.waitFor() == 2
            assert new File(dir, 'out/result.json').text.trim() == '{"argv": "deploy --params-file params.json --json"}'
            assert new File(dir, 'out/deploy.exit').text.trim() == '2'

            new File(dir, 'out/deploy.exit').delete()
            Process wait = shell(h.vars.pipelinePy.WAIT_SCRIPT, [PATH: System.getenv('PATH'), PP_EXIT: 'out/deploy.exit', PP_GRACE: '1'])
            assert wait.waitFor() == 124
        } finally {
            dir.deleteDir()
        }
    }

    /**
     * Issue 13: pipeline-py's deploy lock records its holder from JOB_NAME, BUILD_NUMBER and
     * BUILD_URL, which every sh step has. RUN_SCRIPT takes only the process-killer cookies away.
     */
    void testRunScriptKeepsTheBuildIdentityTheDeployLockRecords() {
        dir = File.createTempDir('abort', '')
        try {
            File pp = stub('pipeline-py', 'printf \'{"who": "%s#%s", "url": "%s", "cookie": "%s"}\\n\' ' +
                '"$JOB_NAME" "$BUILD_NUMBER" "$BUILD_URL" "${JENKINS_SERVER_COOKIE:-none}"\n')
            new File(dir, 'params.json').text = '{}'
            Map<String, String> env = runEnv(pp, 'durable-id') + [JOB_NAME: 'apps/task-api/main', BUILD_NUMBER: '42',
                                                                  BUILD_URL: 'https://ci/job/apps/job/task-api/job/main/42/']
            assert shell(h.vars.pipelinePy.RUN_SCRIPT, env).waitFor() == 0
            assert new groovy.json.JsonSlurper().parse(new File(dir, 'out/result.json')) ==
                [who: 'apps/task-api/main#42', url: 'https://ci/job/apps/job/task-api/job/main/42/', cookie: 'none']
        } finally {
            dir.deleteDir()
        }
    }
}
