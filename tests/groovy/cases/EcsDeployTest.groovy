/** vars/ecsDeploy.groovy: Deploys with a strategy (pipeline-py deploy, deploy promote, deploy abort). */
class EcsDeployTest extends EnvStepTestSupport {
    EcsDeployTest() {
        super('ecsDeploy', [env: 'staging'], 'deploy')
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
            ([strategy: 'big-bang'])                              : "ecsDeploy: unknown strategy 'big-bang' (known: rolling, blue-green, canary, linear, ecs-blue-green, ecs-linear, ecs-canary)",
            ([strategy: 'rolling', canary: [steps: [50, 100]]])   : "ecsDeploy: canary settings apply to strategies canary, ecs-canary, ecs-linear, not 'rolling'",
            ([strategy: 'canary', canary: [bakeSecond: 10]])      : "ecsDeploy: unknown canary setting 'bakeSecond' (known: steps, bakeSeconds, analysis)",
            ([strategy: 'canary', canary: [steps: '10,100']])     : "ecsDeploy: canary.steps must be a list of traffic percentages, got '10,100'",
            ([strategy: 'blue-green', blueGreen: 'http://x'])     : 'ecsDeploy: blueGreen must be a map of settings, got String',
            ([strategy: 'linear', linear: [stepPercent: 10], canary: [steps: [100]]]): "ecsDeploy: canary settings apply to strategies canary, ecs-canary, ecs-linear, not 'linear'",
            ([strategy: 'canary', native: [canaryPercent: 5]])   : "ecsDeploy: native settings apply to strategies ecs-blue-green, ecs-linear, ecs-canary, not 'canary'",
            ([strategy: 'ecs-canary', native: [canaryPrecent: 5]]): "ecsDeploy: unknown native setting 'canaryPrecent' (known: canaryPercent, linearStepPercent, stepBakeMinutes, bakeMinutes, hookTimeoutMinutes, gateTimeoutMinutes, ecsAlarms, testUrl, alternateTargetGroup, productionListenerRule, testListenerRule, roleArn)",
            ([strategy: 'ecs-linear', native: [canaryPercent: 5]]): "ecsDeploy: native.canaryPercent applies to strategy 'ecs-canary', not 'ecs-linear'",
            ([strategy: 'ecs-canary', canary: [steps: [5, 100]]]): "ecsDeploy: canary.steps applies to strategy 'canary', not 'ecs-canary'",
            ([strategy: 'canary', pauseAt: 'POST_TEST_TRAFFIC_SHIFT']): "ecsDeploy: pauseAt 'POST_TEST_TRAFFIC_SHIFT' is a lifecycle stage, which only the ecs-* strategies have (ecs-blue-green, ecs-linear, ecs-canary), not 'canary'; pause canary at a traffic percentage",
            ([strategy: 'ecs-canary', pauseAt: 'after the test traffic']): "ecsDeploy: pauseAt must be a traffic percentage or (ecs-* strategies) a lifecycle stage such as 'POST_TEST_TRAFFIC_SHIFT', got 'after the test traffic'",
            ([pauseAt: [50]])                                     : "ecsDeploy: pauseAt must be a traffic percentage or (ecs-* strategies) a lifecycle stage such as 'POST_TEST_TRAFFIC_SHIFT', got '[50]'",
        ]
        cases.each { Map args, String message ->
            Map r = attempt([env: 'prod'] + args)
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
        Map r = attempt([env: 'prod', image: DIGEST])
        assert r.error == 'MANUAL ACTION REQUIRED: pipeline-py deploy failed and could not restore a safe state: listener did not switch back'
        assert h.currentBuild.description == 'prod: task-api@sha256:0f0f0f0f0f0f \u00b7 blue-green \u00b7 FAILED, MANUAL ACTION REQUIRED'
        assert h.currentBuild.result == 'FAILURE'
        assert h.archived == ['pipeline-py-reports/deploy-prod.json']
    }

    void testEcsDeployShowsTheCanaryAnalysis() {
        responses.deploy = [status: 'rolled_back', strategy: 'canary', analysis: [[weight: 10, verdict: 'pass'], [weight: 25, verdict: 'fail']]]
        responses.deploy = [code: 1, result: responses.deploy + [message: 'canary analysis failed at 25%']]
        Map r = attempt([env: 'prod', strategy: 'canary', description: false])
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
        h.vars.ecsDeploy.promote(env: 'prod', strategy: 'ecs-canary', description: false)
        assert h.pipelinePyRuns[-1].params == [env: 'prod', strategy: 'ecs-canary']
        Map r = h.attempt { h.vars.ecsDeploy.promote(env: 'prod', strategy: 'big-bang') }
        assert r.error.startsWith("ecsDeploy: unknown strategy 'big-bang'")
        r = h.attempt { h.vars.ecsDeploy.promote(env: 'prod', canary: [steps: [100]]) }
        assert r.error.startsWith("ecsDeploy.promote: unknown parameter 'canary'")
    }

    /** Issue 16: ECS' native strategies take the `native` settings and pause at a lifecycle stage. */
    void testNativeStrategiesTakeTheirSettingsAndPauseAtALifecycleStage() {
        responses.deploy = [status: 'paused', strategy: 'ecs-canary',
                            paused: [stage: 'POST_TEST_TRAFFIC_SHIFT', weight: 0, hook_id: 'h-1', expires_at: '2026-05-01T12:00:00+00:00']]
        Map r = h.vars.ecsDeploy.call(env: 'prod', strategy: 'ecs-canary', image: DIGEST, pauseAt: 'POST_TEST_TRAFFIC_SHIFT',
            native: [canaryPercent: 5, gateTimeoutMinutes: 90, ecsAlarms: ['task-api-prod-5xx'], testUrl: 'http://alb:8080/health'],
            canary: [bakeSeconds: '5m', analysis: [maxErrorRate: 0.01]])
        assert r.status == 'paused'
        assert runOf('deploy').params == [env: 'prod', strategy: 'ecs-canary', image: DIGEST, 'pause-at': 'POST_TEST_TRAFFIC_SHIFT',
            set: ['canary.bake_seconds="5m"', 'canary.analysis.max_error_rate=0.01', 'native.canary_percent=5',
                  'native.gate_timeout_minutes=90', 'native.ecs_alarms=["task-api-prod-5xx"]',
                  'native.test_url="http://alb:8080/health"']]
        assert h.log.contains('ecsDeploy (prod): paused at POST_TEST_TRAFFIC_SHIFT with 0% of production traffic on the new ' +
            'revision; ECS rolls it back at 2026-05-01T12:00:00+00:00 unless it is promoted')
        assert h.currentBuild.description == 'prod: task-api@sha256:0f0f0f0f0f0f \u00b7 ecs-canary \u00b7 paused'
        assert h.currentBuild.result == null

        // a percentage stays a number (digits too), for every strategy that shifts traffic
        h = new PipelineHarness()
        h.fakePipelinePy()
        h.vars.ecsDeploy.call(env: 'prod', strategy: 'linear', pauseAt: 40)
        h.vars.ecsDeploy.call(env: 'prod', pauseAt: 'PRE_PRODUCTION_TRAFFIC_SHIFT')  // the config's strategy decides
        assert h.pipelinePyRuns*.params*.get('pause-at') == [40, 'PRE_PRODUCTION_TRAFFIC_SHIFT']
    }

    /** Issue 13: the HTML report pipeline-py writes is archived, and published or linked. */
    void testTheHtmlReportIsArchivedAndLinkedWhenThePublisherIsMissing() {
        h = new PipelineHarness()
        h.missingPlugins << 'publishHTML'
        h.fakePipelinePy { String cmd, Map p, Map e, File cwd ->
            File html = new File(cwd, '.pipeline-py/reports/task-api-rolling-20260501T120000Z.html')
            html.parentFile.mkdirs()
            html.text = '<html></html>'
            [code: 1, result: [status: 'rolled_back', strategy: 'rolling', message: 'circuit breaker', report_html: html.absolutePath]]
        }
        Map r = h.attempt { h.dispatch('dir', ['svc', { h.vars.ecsDeploy.call(env: 'prod', image: DIGEST) }] as Object[]) }
        assert r.error == 'pipeline-py deploy failed and was rolled back safely: circuit breaker'
        assert h.archived.contains('.pipeline-py/reports/task-api-rolling-20260501T120000Z.html')
        String url = 'https://jenkins.example.com/job/apps/job/task-api/job/main/42/artifact/.pipeline-py/reports/task-api-rolling-20260501T120000Z.html'
        assert h.currentBuild.description == "prod: task-api@sha256:0f0f0f0f0f0f \u00b7 rolling \u00b7 rolled_back \u00b7 report: ${url}"
        assert h.callsTo('publishHTML').size() == 1 && h.callsTo('publishHTML')[0].missing
        assert h.log.contains('pipeline-py HTML report: the HTML Publisher plugin (htmlpublisher) is not installed, so the ' +
            'report is linked from the build description instead')
    }

    void testTheCanaryAnalysisLineTakesWhatPipelinePyReports() {
        responses.deploy = [status: 'succeeded', analysis: [[step: 50, result: 'pass'], [status: 'skipped'], 'no data']]
        h.vars.ecsDeploy.call(env: 'prod', description: false)
        assert h.log.contains('ecsDeploy: canary analysis: 50%: pass, ?%: skipped, no data')
        h.vars.ecsDeploy.call(env: 'prod', description: false)
        responses.deploy = [status: 'succeeded', analysis: 'analysis skipped: no alarms configured']
        h.vars.ecsDeploy.call(env: 'prod', description: false)
        assert h.log.contains('ecsDeploy: canary analysis: analysis skipped: no alarms configured')
    }
}
