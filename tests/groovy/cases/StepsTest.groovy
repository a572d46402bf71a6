/** The thin steps over pipelinePy: defaults, validation, the exact params handed over, results. */
class StepsTest {
    static final String DIGEST = 'acct.dkr.ecr.eu-west-1.amazonaws.com/task-api@sha256:' + ('0f' * 32)

    PipelineHarness h = new PipelineHarness()
    Map<String, Object> responses = [:]

    StepsTest() {
        h.fakePipelinePy { String cmd, Map p, Map e -> responses.containsKey(cmd) ? responses[cmd] : [status: 'ok'] }
    }

    Map runOf(String command) {
        List runs = h.pipelinePyRuns.findAll { it.command == command }
        assert runs.size() == 1: "expected one '${command}' run, got ${h.commandsRun()}"
        return runs[0]
    }

    Map attempt(String step, Map args) {
        return h.attempt { h.vars[step].call(args) }
    }

    /** Each step: [name, minimal arguments, command it runs]. */
    static final List STEPS = [
        ['buildImage', [:], 'build'],
        ['pushImage', [:], 'push'],
        ['renderTaskDefinition', [env: 'staging'], 'render'],
        ['terraformPlan', [env: 'staging'], 'terraform plan'],
        ['terraformApply', [env: 'staging'], 'terraform apply'],
        ['ecsDeploy', [env: 'staging'], 'deploy'],
        ['ecsRollback', [env: 'staging'], 'rollback'],
        ['ecsRunTask', [env: 'staging', command: 'migrate'], 'run-task'],
    ]

    void testEveryStepPassesTheCommonParametersAndCredentialThrough() {
        STEPS.each { String step, Map minimal, String command ->
            h = new PipelineHarness()
            h.awsCredential('aws-x', 'AKIAX', 'x-secret-value')
            h.fakePipelinePy { cmd, p, e -> [status: 'succeeded'] }
            h.vars[step].call(minimal + [env: 'qa', config: 'svc/pipeline.yaml', dryRun: true, set: [timeout: 60],
                                         awsCredentialsId: 'aws-x', pipelinePySource: 'path'])
            Map run = h.pipelinePyRuns.find { it.command == command }
            assert run: "${step} did not run ${command}"
            assert run.params.subMap(['env', 'config', 'dry_run', 'set']) ==
                [env: 'qa', config: 'svc/pipeline.yaml', dry_run: true, set: ['timeout=60']]: step
            assert run.env.AWS_SECRET_ACCESS_KEY == 'x-secret-value': step
            assert h.callsTo('sh').find { it.env.PP_INSTALL }.env.PIPELINE_PY_SOURCE == 'path'
            assert h.secretLeaks() == []: step
        }
    }

    void testEveryStepRejectsUnknownParametersBeforeTouchingTheAgent() {
        STEPS.each { String step, Map minimal, String command ->
            h = new PipelineHarness()
            h.fakePipelinePy()
            Map r = h.attempt { h.vars[step].call(minimal + [enviroment: 'prod']) }
            assert r.error?.startsWith("${step}: unknown parameter 'enviroment' (known: "): step
            assert !h.callsTo('sh'): step
        }
    }

    void testStepsThatNeedAnEnvironmentSaySo() {
        ['renderTaskDefinition', 'terraformPlan', 'terraformApply', 'ecsDeploy', 'ecsRollback', 'ecsRunTask'].each {
            Map r = attempt(it, [command: 'x'].findAll { k, v -> it == 'ecsRunTask' })
            assert r.error == "${it}: missing required parameter 'env'": it
        }
        assert !h.callsTo('sh')
    }

    void testBuildImageHandsOverItsOptions() {
        responses.build = [image_id: 'sha256:1', tags: ['task-api:git-abc'], references: ['task-api:git-abc']]
        Map r = h.vars.buildImage.call(tags: ['git-abc', 'v1'], buildArgs: [VERSION: '1.2', GIT_SHA: 'abc'],
            target: 'runtime', platform: 'linux/arm64', cacheFrom: ['task-api:cache'], noCache: true)
        assert r.references == ['task-api:git-abc']
        assert runOf('build').params == [tag: ['git-abc', 'v1'], 'build-arg': [VERSION: '1.2', GIT_SHA: 'abc'],
                                         target: 'runtime', platform: 'linux/arm64', 'cache-from': ['task-api:cache'],
                                         'no-cache': true]
    }

    void testBuildImageDefaultsHandOverNothing() {
        h.vars.buildImage.call()
        assert runOf('build').params == [:]
        Map r = attempt('buildImage', [tags: 'latest'])
        assert r.error == "buildImage: parameter 'tags' must be a list, got String 'latest'"
    }

    void testPushImageReturnsTheDigestReference() {
        responses.push = [image: DIGEST, tags_pushed: ['git-abc']]
        Map r = h.vars.pushImage.call(tags: ['git-abc'])
        assert r.image == DIGEST
        assert runOf('push').params == [tag: ['git-abc']]
        assert h.log.contains("pushImage: ${DIGEST}".toString())
    }

    void testRenderDiffsByDefaultAndRegistersOnlyWhenAsked() {
        h.vars.renderTaskDefinition.call(env: 'prod', image: DIGEST, vars: [cpu: 512])
        assert runOf('render').params == [env: 'prod', image: DIGEST, var: [cpu: 512], diff: true]
        assert h.archived == []

        h = new PipelineHarness()
        h.fakePipelinePy { c, p, e -> [changed: false, task_definition_arn: 'arn:td:9'] }
        h.vars.renderTaskDefinition.call(env: 'prod', diff: false, register: true, output: 'td.json', report: true)
        assert runOf('render').params == [env: 'prod', register: true, output: 'td.json']
        assert h.archived == ['pipeline-py-reports/taskdef-prod.json']
    }

    void testTerraformPlanInitsPlansToAFileAndArchivesTheSummary() {
        responses['terraform plan'] = [plan_file: 'tfplan-staging.bin', summary: [add: ['a', 'b'], change: 1, destroy: [], replace: []]]
        Map r = h.vars.terraformPlan.call(env: 'staging', vars: [desired_count: 2], upgrade: true)
        assert h.commandsRun() == ['terraform init', 'terraform plan']
        assert runOf('terraform init').params == [env: 'staging', upgrade: true]
        assert runOf('terraform plan').params == [env: 'staging', 'plan-file': 'tfplan-staging.bin', var: [desired_count: 2]]
        assert h.archived == ['pipeline-py-reports/terraform-plan-staging.json']
        assert h.log.contains('terraformPlan (staging): 2 to add, 1 to change, 0 to destroy, 0 to replace')
        assert h.vars.terraformPlan.hasChanges(r)
        assert !h.vars.terraformPlan.hasChanges([summary: [add: [], change: 0]])
    }

    void testTerraformPlanOptions() {
        h.vars.terraformPlan.call(env: 'prod', init: false, allowDestroy: true, planFile: 'out/p.bin', report: false)
        assert h.commandsRun() == ['terraform plan']
        assert runOf('terraform plan').params == [env: 'prod', 'plan-file': 'out/p.bin', 'allow-destroy': true]
        assert h.archived == []
    }

    void testADestroyGuardRefusalIsAConfigurationError() {
        responses['terraform plan'] = [code: 2, result: [status: 'error', error: 'bad_input',
            message: 'the plan destroys aws_db_instance.main (protected); use --allow-destroy']]
        Map r = attempt('terraformPlan', [env: 'prod'])
        assert r.error == 'pipeline-py configuration error: the plan destroys aws_db_instance.main (protected); use --allow-destroy'
    }

    void testTerraformApplyAppliesTheSavedPlan() {
        responses['terraform apply'] = [applied: true, summary: [add: 1, change: 0, destroy: 0]]
        h.vars.terraformApply.call(env: 'staging')
        assert h.commandsRun() == ['terraform init', 'terraform apply']
        assert runOf('terraform apply').params == [env: 'staging', 'plan-file': 'tfplan-staging.bin']
        assert h.archived == ['pipeline-py-reports/terraform-apply-staging.json']
    }

    void testEcsDeployHandsOverItsOptions() {
        responses.deploy = [status: 'succeeded', strategy: 'rolling', task_definition_arn: 'arn:td:3']
        Map r = h.vars.ecsDeploy.call(env: 'staging', strategy: 'rolling', image: DIGEST, vars: [LOG_LEVEL: 'debug'],
            timeout: '15m', pollInterval: 5, desiredCount: 3, rolling: [bakeSeconds: 60])
        assert r.status == 'succeeded'
        assert runOf('deploy').params == [env: 'staging', set: ['bake_seconds=60'], strategy: 'rolling', image: DIGEST,
                                          var: [LOG_LEVEL: 'debug'], timeout: '15m', 'poll-interval': 5, 'desired-count': 3]
        assert h.archived == ['pipeline-py-reports/deploy-staging.json']
        assert h.currentBuild.description == 'staging: task-api@sha256:0f0f0f0f0f0f \u00b7 rolling \u00b7 succeeded'
    }

    void testEcsDeployStrategySettingsBecomeConfigOverrides() {
        h.vars.ecsDeploy.call(env: 'prod', strategy: 'canary', image: DIGEST, set: [alarms: ['a']],
            canary: [steps: [5, 50, 100], bakeSeconds: '5m', analysis: [maxErrorRate: 0.001, maxP99Ms: 400, minRequests: 200]])
        assert runOf('deploy').params.set == ['alarms=["a"]', 'canary.steps=[5, 50, 100]', 'canary.bake_seconds="5m"',
                                             'canary.analysis.max_error_rate=0.001', 'canary.analysis.max_p99_ms=400',
                                             'canary.analysis.min_requests=200']
        h = new PipelineHarness()
        h.fakePipelinePy()
        h.vars.ecsDeploy.call(env: 'prod', strategy: 'linear', linear: [stepPercent: 20, bakeSeconds: 30])
        assert runOf('deploy').params.set == ['canary.linear_step=20', 'canary.bake_seconds=30']
        h = new PipelineHarness()
        h.fakePipelinePy()
        h.vars.ecsDeploy.call(env: 'prod', strategy: 'blue-green', blueGreen: [testUrl: 'http://test:8080/health', scaleDownDelay: 300])
        assert runOf('deploy').params.set == ['blue_green.test_url="http://test:8080/health"', 'blue_green.scale_down_delay=300']
        assert runOf('deploy').params.strategy == 'blue-green'
    }

    void testEcsDeployRejectsBadStrategiesAndSettingsBeforeAnythingRuns() {
        Map cases = [
            ([strategy: 'big-bang'])                              : "ecsDeploy: unknown strategy 'big-bang' (known: rolling, blue-green, canary, linear)",
            ([strategy: 'rolling', canary: [steps: [50, 100]]])   : "ecsDeploy: canary settings apply to strategy 'canary', not 'rolling'",
            ([strategy: 'canary', canary: [bakeSecond: 10]])      : "ecsDeploy: unknown canary setting 'bakeSecond' (known: steps, bakeSeconds, analysis)",
            ([strategy: 'canary', canary: [steps: '10,100']])     : "ecsDeploy: canary.steps must be a list of traffic percentages, got '10,100'",
            ([strategy: 'blue-green', blueGreen: 'http://x'])     : 'ecsDeploy: blueGreen must be a map of settings, got String',
            ([strategy: 'linear', linear: [stepPercent: 10], canary: [steps: [100]]]): "ecsDeploy: canary settings apply to strategy 'canary', not 'linear'",
        ]
        cases.each { Map args, String message ->
            Map r = attempt('ecsDeploy', [env: 'prod'] + args)
            assert r.error == message
        }
        assert !h.callsTo('sh') && !h.callsTo('writeFile')
    }

    void testEcsDeploySettingsWithoutAStrategyLeaveTheChoiceToTheConfig() {
        h.vars.ecsDeploy.call(env: 'prod', canary: [bakeSeconds: 10])
        assert runOf('deploy').params == [env: 'prod', set: ['canary.bake_seconds=10']]
    }

    void testEcsDeployFailuresSetTheDescriptionThenFail() {
        responses.deploy = [code: 3, result: [status: 'failed', strategy: 'blue-green', message: 'listener did not switch back']]
        Map r = attempt('ecsDeploy', [env: 'prod', image: DIGEST])
        assert r.error == 'MANUAL ACTION REQUIRED: pipeline-py deploy failed and could not restore a safe state: listener did not switch back'
        assert h.currentBuild.description == 'prod: task-api@sha256:0f0f0f0f0f0f \u00b7 blue-green \u00b7 FAILED, MANUAL ACTION REQUIRED'
        assert h.currentBuild.result == 'FAILURE'
        assert h.archived == ['pipeline-py-reports/deploy-prod.json']
    }

    void testEcsDeployShowsTheCanaryAnalysis() {
        responses.deploy = [status: 'rolled_back', strategy: 'canary', analysis: [[weight: 10, verdict: 'pass'], [weight: 25, verdict: 'fail']]]
        responses.deploy = [code: 1, result: responses.deploy + [message: 'canary analysis failed at 25%']]
        Map r = attempt('ecsDeploy', [env: 'prod', strategy: 'canary', description: false])
        assert h.log.contains('ecsDeploy: canary analysis: 10%: pass, 25%: fail')
        assert r.error == 'pipeline-py deploy failed and was rolled back safely: canary analysis failed at 25%'
        assert h.currentBuild.description == null
    }

    void testEcsDeployPromoteAndAbortAPausedDeploy() {
        responses['deploy promote'] = [status: 'succeeded', strategy: 'canary']
        responses['deploy abort'] = [status: 'rolled_back', strategy: 'canary']
        h.vars.ecsDeploy.promote(env: 'prod', timeout: 600)
        h.vars.ecsDeploy.abort(env: 'prod', report: false)
        assert h.commandsRun() == ['deploy promote', 'deploy abort']
        assert h.pipelinePyRuns[0].params == [env: 'prod', timeout: 600]
        assert h.archived == ['pipeline-py-reports/deploy-promote-prod.json']
        Map r = h.attempt { h.vars.ecsDeploy.promote(env: 'prod', strategy: 'canary') }
        assert r.error.startsWith("ecsDeploy.promote: unknown parameter 'strategy'")
    }

    void testEcsRollbackGoesBackAndSaysWhere() {
        responses.rollback = [status: 'succeeded', task_definition_arn: 'arn:aws:ecs:eu-west-1:1:task-definition/task-api:6']
        h.vars.ecsRollback.call(env: 'prod', to: 'arn:aws:ecs:eu-west-1:1:task-definition/task-api:6', timeout: 300)
        assert runOf('rollback').params == [env: 'prod', to: 'arn:aws:ecs:eu-west-1:1:task-definition/task-api:6', timeout: 300]
        assert h.currentBuild.description == 'prod: rollback to task-api:6 \u00b7 succeeded'
        assert h.archived == ['pipeline-py-reports/rollback-prod.json']

        responses.rollback = [code: 3, result: [status: 'failed', message: 'service did not stabilise']]
        Map r = attempt('ecsRollback', [env: 'prod'])
        assert r.error.startsWith('MANUAL ACTION REQUIRED: pipeline-py rollback failed')
    }

    void testEcsRunTaskTakesAStringOrAListCommand() {
        responses['run-task'] = [status: 'succeeded', task_arn: 'arn:task/1', container_exit_code: 0]
        h.vars.ecsRunTask.call(env: 'staging', command: 'python manage.py migrate --noinput', container: 'app')
        assert h.log.contains('ecsRunTask (staging): arn:task/1 exited 0')
        h.vars.ecsRunTask.call(env: 'staging', command: ['python', 'manage.py', 'migrate'], timeout: '20m')
        assert h.pipelinePyRuns*.params == [
            [env: 'staging', command: 'python manage.py migrate --noinput', container: 'app'],
            [env: 'staging', command: ['python', 'manage.py', 'migrate'], timeout: '20m'],
        ]
        Map r = attempt('ecsRunTask', [env: 'staging'])
        assert r.error == "ecsRunTask: missing required parameter 'command'"
        r = attempt('ecsRunTask', [env: 'staging', command: [migrate: true]])
        assert r.error == 'ecsRunTask: command must be a string or a list, got LinkedHashMap'
    }

    void testEcsRunTaskFailureFailsTheBuild() {
        responses['run-task'] = [code: 1, result: [status: 'error', message: 'container app exited with 1']]
        Map r = attempt('ecsRunTask', [env: 'staging', command: 'migrate'])
        assert r.error == 'pipeline-py run-task failed (nothing was left half-done): container app exited with 1'
    }
}
