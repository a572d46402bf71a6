import groovy.json.JsonOutput

/**
 * Every step, called with all of its options, writes the params file it hands to pipeline-py.
 * When PIPELINE_PY_CONTRACT_OUT is set, the (command, params) pairs are written there and
 * tests/test_groovy.py parses each with the real CLI parser: the option names the Groovy side
 * uses are the ones pipeline-py accepts.
 */
class ContractTest {
    static final String DIGEST = 'acct.dkr.ecr.us-east-1.amazonaws.com/task-api@sha256:' + ('e' * 64)

    void testEveryStepWritesParamsForItsCommand() {
        PipelineHarness h = new PipelineHarness()
        h.fakePipelinePy { cmd, p, e -> [status: 'ok', summary: [add: 0]] }
        Map common = [env: 'prod', config: 'pipeline.yaml', dryRun: true, set: [timeout: 60]]
        h.vars.buildImage.call(common + [tags: ['a'], buildArgs: [K: 'v'], target: 't', platform: 'linux/amd64',
                                         cacheFrom: ['c'], noCache: true])
        h.vars.pushImage.call(common + [tags: ['a']])
        h.vars.renderTaskDefinition.call(common + [image: DIGEST, vars: [cpu: 256], register: true, output: 'td.json'])
        h.vars.terraformPlan.call(common + [vars: [x: 1], allowDestroy: true, upgrade: true, planFile: 'p.bin'])
        h.vars.terraformApply.call(common + [planFile: 'p.bin'])
        h.vars.ecsDeploy.call(common + [strategy: 'canary', image: DIGEST, vars: [a: 'b'], timeout: '15m',
                                        pollInterval: 5, rollbackTimeout: '10m', desiredCount: 2, pauseAt: 50,
                                        forceNewDeployment: true,
                                        canary: [steps: [10, 50, 100], bakeSeconds: 30, analysis: [maxErrorRate: 0.01]]])
        h.vars.ecsDeploy.call(common + [taskDefinition: 'arn:aws:ecs:us-east-1:1:task-definition/t:3'])
        h.vars.ecsDeploy.promote(common + [timeout: 600, pollInterval: 5, rollbackTimeout: 300])
        h.vars.ecsDeploy.abort(common + [timeout: 600])
        h.vars.ecsRollback.call(common + [to: 'arn:aws:ecs:us-east-1:1:task-definition/t:2', timeout: 300])
        h.vars.ecsRunTask.call(common + [command: ['manage.py', 'migrate'], container: 'app', image: DIGEST,
                                         taskDefinition: 'arn:td', timeout: 120])
        h.vars.pipelinePy.call(command: 'jenkins preflight', env: 'prod', params: ['skip-alarms': true, 'rds-snapshot': 'db'])
        h.vars.pipelinePy.call(command: 'jenkins sync', params: [folder: 'apps', 'repo-url': 'https://x/r.git', url: 'https://ci'])
        h.vars.pipelinePy.call(command: 'jenkins validate', params: [jenkinsfile: 'Jenkinsfile', url: 'https://ci'])
        h.vars.pipelinePy.call(command: 'jenkins build', params: [job: 'apps/x', branch: 'main', parameter: [A: '1'],
                                                                 follow: true, url: 'https://ci'])

        List pairs = h.pipelinePyRuns.collect { [command: it.command, params: it.params] }
        assert pairs*.command as Set == ['build', 'push', 'render', 'terraform init', 'terraform plan', 'terraform apply',
                                         'deploy', 'deploy promote', 'deploy abort', 'rollback', 'run-task',
                                         'jenkins preflight', 'jenkins sync', 'jenkins validate', 'jenkins build'] as Set
        String out = System.getenv('PIPELINE_PY_CONTRACT_OUT')
        if (out) {
            new File(out).text = JsonOutput.toJson(pairs)
        }
    }
}
