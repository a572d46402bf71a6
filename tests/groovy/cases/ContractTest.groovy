import groovy.json.JsonOutput

/**
 * Every step, called with all of its options, writes the params file it hands to pipeline-py.
 * When PIPELINE_PY_CONTRACT_OUT is set, the (step, command, params) triples are written there and
 * tests/test_groovy.py checks them against the real CLI parser both ways: each option name the
 * Groovy side uses is one pipeline-py accepts, and each option of a command a step runs is either
 * one of the step's parameters or listed in tests/groovy/hidden-cli-options.txt.
 */
class ContractTest {
    static final String DIGEST = 'acct.dkr.ecr.us-east-1.amazonaws.com/task-api@sha256:' + ('e' * 64)

    PipelineHarness h = new PipelineHarness()
    List<Map> triples = []

    void by(String step, Closure call) {
        int before = h.pipelinePyRuns.size()
        call.call()
        h.pipelinePyRuns.drop(before).each { triples << [step: step, command: it.command, params: it.params] }
    }

    void testEveryStepWritesParamsForItsCommand() {
        h.fakePipelinePy { cmd, p, e, File cwd ->
            if (cmd == 'terraform plan') {
                new File(cwd, p['plan-file']).text = 'plan'
            }
            cmd == 'push' ? [image: DIGEST] : cmd == 'db snapshot' ? [snapshot: 'snap-1'] : [status: 'ok', summary: [add: 1]]
        }
        h.awsCredential('aws-prod')
        h.inputHandler = { Map a -> 'alice' }
        Map common = [env: 'prod', config: 'pipeline.yaml', dryRun: true, set: [timeout: 60]]
        by('buildImage') {
            h.vars.buildImage.call(common + [tags: ['a'], buildArgs: [K: 'v'], target: 't', platform: 'linux/amd64',
                                             cacheFrom: ['c'], noCache: true])
        }
        by('pushImage') { h.vars.pushImage.call(common + [tags: ['a']]) }
        by('renderTaskDefinition') {
            h.vars.renderTaskDefinition.call(common + [image: DIGEST, vars: [cpu: 256], register: true, output: 'td.json'])
        }
        by('terraformPlan') { h.vars.terraformPlan.call(common + [vars: [x: 1], allowDestroy: true, upgrade: true, planFile: 'p.bin']) }
        by('terraformApply') { h.vars.terraformApply.call(common + [planFile: 'p.bin']) }
        by('ecsDeploy') {
            h.vars.ecsDeploy.call(common + [strategy: 'canary', image: DIGEST, vars: [a: 'b'], timeout: '15m',
                                            pollInterval: 5, rollbackTimeout: '10m', desiredCount: 2, pauseAt: 50,
                                            forceNewDeployment: true, waitForLock: '10m', reportDir: 'reports',
                                            canary: [steps: [10, 50, 100], bakeSeconds: 30, analysis: [maxErrorRate: 0.01]]])
            h.vars.ecsDeploy.call(common + [taskDefinition: 'arn:aws:ecs:us-east-1:1:task-definition/t:3'])
            h.vars.ecsDeploy.call(common + [strategy: 'ecs-canary', pauseAt: 'POST_TEST_TRAFFIC_SHIFT', publishHtml: false,
                                            native: [canaryPercent: 5, stepBakeMinutes: 1, bakeMinutes: 2, hookTimeoutMinutes: 30,
                                                     gateTimeoutMinutes: 60, ecsAlarms: ['a'], testUrl: 'http://t:8080/',
                                                     alternateTargetGroup: 'arn:tg', productionListenerRule: 'arn:p',
                                                     testListenerRule: 'arn:t', roleArn: 'arn:role'],
                                            canary: [bakeSeconds: 60, analysis: [minRequests: 50]]])
            h.vars.ecsDeploy.call(common + [strategy: 'ecs-linear', native: [linearStepPercent: 20]])
            h.vars.ecsDeploy.promote(common + [strategy: 'canary', timeout: 600, pollInterval: 5, rollbackTimeout: 300, waitForLock: 60, reportDir: 'r'])
            h.vars.ecsDeploy.abort(common + [strategy: 'linear', timeout: 600, pollInterval: 5, rollbackTimeout: 300, waitForLock: 60, reportDir: 'r'])
        }
        by('scanImage') { h.vars.scanImage.call(common + [image: DIGEST, failOn: 'CRITICAL', timeout: '10m']) }
        by('ecsDiagnose') {
            h.vars.ecsDiagnose.call(common + [since: '30m', only: ['error_rate', 'database'], filter: 'ERROR', connect: false])
        }
        by('dbSnapshot') {
            h.vars.dbSnapshot.call(common + [instance: 'task-api-prod', build: 'b-1', snapshotId: 'task-api-prod-before-x',
                                             tags: [change: 'CHG-1'], timeoutMinutes: 20, pollInterval: 10])
        }
        by('ecsRollback') {
            h.vars.ecsRollback.call(common + [to: 'arn:aws:ecs:us-east-1:1:task-definition/t:2', timeout: 300,
                                              pollInterval: 5, waitForLock: '5m'])
        }
        by('ecsRunTask') {
            h.vars.ecsRunTask.call(common + [command: ['manage.py', 'migrate'], container: 'app', image: DIGEST,
                                             taskDefinition: 'arn:td', vars: [A: '1'], timeout: 120])
        }
        h.buildEnv.BRANCH_NAME = 'main'
        h.buildEnv.GIT_COMMIT = '0123456789abcdef0123456789abcdef01234567'
        by('ecsPipeline') {
            h.vars.ecsPipeline.call(service: 'task-api', checks: [Unit: { -> }], prodSubmitter: 'release', prodCredentialsId: 'aws-prod',
                                    rdsSnapshot: 'db', verify: true)
        }
        assert h.currentBuild.currentResult == 'SUCCESS'
        by('pipelinePy') {
            h.vars.pipelinePy.call(command: 'jenkins sync', params: [folder: 'apps', 'repo-url': 'https://x/r.git', url: 'https://ci'])
            h.vars.pipelinePy.call(command: 'jenkins validate', params: [jenkinsfile: 'Jenkinsfile', url: 'https://ci'])
            h.vars.pipelinePy.call(command: 'jenkins build', params: [job: 'apps/x', branch: 'main', parameter: [A: '1'],
                                                                     follow: true, url: 'https://ci'])
            // the runbook commands no step wraps
            h.vars.pipelinePy.call(command: 'status', env: 'prod')
            h.vars.pipelinePy.call(command: 'terraform output', env: 'prod')
            h.vars.pipelinePy.call(command: 'unlock', env: 'prod', params: ['lock-id': 'l-1', force: true, strategy: 'canary'])
            h.vars.pipelinePy.call(command: 'terraform unlock', env: 'prod', params: ['lock-id': 'tf-1'])
            h.vars.pipelinePy.call(command: 'logs', env: 'prod', params: [since: '1h', filter: 'ERROR', task: 'abc', limit: 100])
            h.vars.pipelinePy.call(command: 'cost', env: 'prod', params: [month: '2026-01', by: 'service', 'no-budget': true])
            h.vars.pipelinePy.call(command: 'db snapshots', env: 'prod', params: [instance: 'db', type: 'manual'])
            h.vars.pipelinePy.call(command: 'db check', env: 'prod', params: [instance: 'db'])
        }

        // every command of pipelinePy's allow-list is handed over at least once, so the Python side
        // (tests/test_groovy.py) checks that the CLI registers each one and parses its params
        assert triples*.command as Set == h.vars.pipelinePy.COMMANDS as Set
        assert triples.find { it.step == 'ecsPipeline' && it.command == 'jenkins preflight' }.params == [env: 'prod']
        assert triples.find { it.step == 'ecsPipeline' && it.command == 'db snapshot' }.params ==
            [env: 'prod', instance: 'db', build: 'jenkins-apps-task-api-main-42', timeout: 1800]
        String out = System.getenv('PIPELINE_PY_CONTRACT_OUT')
        if (out) {
            new File(out).text = JsonOutput.toJson(triples)
        }
    }
}
