/** vars/ecsPipeline.groovy run through the declarative interpreter for each kind of multibranch build. */
class EcsPipelineTest {
    static final String DIGEST = '123456789012.dkr.ecr.us-east-1.amazonaws.com/task-api@sha256:' + ('ab' * 32)
    static final List ALL_STAGES = ['Checks', 'Checks/Unit', 'Build image', 'Render task definition', 'Terraform plan',
                                    'Deploy staging', 'Approve production', 'Deploy production']

    PipelineHarness h
    Map planSummary = [add: ['aws_ecs_service.x'], change: [], destroy: [], replace: []]
    Map responses = [:]
    List<String> checkRuns = []

    Map baseArgs() {
        return [
            service             : 'task-api',
            appDir              : 'examples/task-api',
            agentLabel          : 'docker',
            checks              : [Unit: { h.dispatch('sh', ['make test'] as Object[]); checkRuns << 'Unit' }],
            stagingCredentialsId: 'aws-staging',
            prodCredentialsId   : 'aws-prod',
            prodSubmitter       : 'release-managers',
            rdsSnapshot         : 'task-api-db',
            prodDeploy          : [strategy: 'canary', canary: [steps: [10, 50, 100], bakeSeconds: 300]],
        ]
    }

    PipelineHarness build(Map env, Map overrides = [:], boolean runIt = true) {
        h = new PipelineHarness([GIT_COMMIT: '0123456789abcdef0123456789abcdef01234567'] + env)
        h.awsCredential('aws-staging', 'AKIASTAGING', 'staging-secret-key')
        h.awsCredential('aws-prod', 'AKIAPROD', 'prod-secret-key-value')
        h.awsCredential('aws-readonly', 'AKIARO', 'readonly-secret-key')
        h.inputHandler = { Map a -> 'alice' }
        h.fakePipelinePy { String cmd, Map p, Map e, File cwd ->
            if (cmd == 'terraform plan') {
                new File(cwd, p['plan-file']).text = 'binary plan'
            }
            if (responses.containsKey(cmd)) {
                def r = responses[cmd]
                return r instanceof Closure ? r.call(p, e) : r
            }
            switch (cmd) {
                case 'build': return [image_id: 'sha256:feed', tags: p.tag, references: ["task-api:${p.tag[0]}"]]
                case 'push': return [image: DIGEST, digest: 'sha256:' + ('ab' * 32)]
                case 'render': return [changed: true, family: 'task-api']
                case 'terraform plan': return [plan_file: p['plan-file'], summary: planSummary]
                case 'terraform apply': return [applied: true, summary: planSummary]
                case 'deploy': return [status: 'succeeded', strategy: p.strategy ?: 'rolling', task_definition_arn: 'arn:td:7']
                default: return [status: 'ok']
            }
        }
        h.shHandler = wrapSh(h.shHandler)
        if (runIt) {
            h.vars.ecsPipeline.call(baseArgs() + overrides)
        }
        return h
    }

    /** `make test` from the checks closure succeeds; everything else is pipeline-py. */
    static Closure wrapSh(Closure inner) {
        return { Map sh, Map env, File cwd -> sh.script == 'make test' ? 0 : inner.call(sh, env, cwd) }
    }

    List<String> ran() {
        return h.declarative.ran()
    }

    void testPullRequestsBuildCheckRenderAndPlanOnlyWithAReadOnlyCredential() {
        build([BRANCH_NAME: 'PR-12', CHANGE_ID: '12', CHANGE_TARGET: 'develop'], [prCredentialsId: 'aws-readonly'])
        assert ran() == ['Checks', 'Checks/Unit', 'Build image', 'Render task definition', 'Terraform plan']
        assert h.declarative.skipped() == ['Deploy staging', 'Approve production', 'Deploy production']
        assert h.commandsRun() == ['build', 'render', 'terraform init', 'terraform plan']
        assert h.pipelinePyRuns.every { it.params.env == 'staging' }
        Map plan = h.pipelinePyRuns.find { it.command == 'terraform plan' }
        assert plan.env.AWS_ACCESS_KEY_ID == 'AKIARO'
        assert !h.pipelinePyRuns.find { it.command == 'build' }.env.AWS_ACCESS_KEY_ID
        assert !h.callsTo('input') && !h.callsTo('lock') && !h.callsTo('stash')
        assert h.currentBuild.currentResult == 'SUCCESS'
        assert h.log[0] == 'ecsPipeline: pull request 12: checks, build image, render, terraform plan (staging), no deploy'
    }

    void testPullRequestsWithoutAPlanCredentialSkipThePlanAndDiff() {
        build([BRANCH_NAME: 'PR-3', CHANGE_ID: '3'])
        assert 'Terraform plan' in h.declarative.skipped()
        assert h.commandsRun() == ['build', 'render']
        assert h.pipelinePyRuns[1].params.diff == null
        assert h.pipelinePyRuns.every { !it.env.AWS_SECRET_ACCESS_KEY }
    }

    void testFeatureBranchesAreCiOnly() {
        build([BRANCH_NAME: 'feature/login'], [prCredentialsId: 'aws-readonly'])
        assert ran() == ['Checks', 'Checks/Unit', 'Build image', 'Render task definition', 'Terraform plan']
        assert !('push' in h.commandsRun()) && !('deploy' in h.commandsRun())
    }

    void testDevelopDeploysToStagingUnderItsLockWithoutApproval() {
        build([BRANCH_NAME: 'develop'])
        assert ran() == ['Checks', 'Checks/Unit', 'Build image', 'Render task definition', 'Terraform plan', 'Deploy staging']
        assert h.commandsRun() == ['build', 'push', 'render', 'terraform init', 'terraform plan',
                                   'jenkins preflight', 'terraform init', 'terraform apply', 'deploy']
        assert h.pipelinePyRuns.every { it.params.env == 'staging' && it.env.AWS_ACCESS_KEY_ID == 'AKIASTAGING' }
        assert h.pipelinePyRuns.every { it.cwd.path.endsWith('examples/task-api') }
        assert !h.callsTo('input')
        assert h.named(h.callsTo('lock')[0]) == [resource: 'task-api-staging', inversePrecedence: true]
        Map deploy = h.pipelinePyRuns.find { it.command == 'deploy' }
        assert deploy.params == [env: 'staging', image: DIGEST]
        Map preflight = h.pipelinePyRuns.find { it.command == 'jenkins preflight' }
        assert preflight.params == [env: 'staging']
        assert h.named(h.callsTo('pushImage')[0]).tags == ['git-0123456789ab']
        assert h.currentBuild.description.startsWith('staging: task-api@sha256:abababab')
    }

    void testMainDeploysToProdAfterApprovalUnderLockAndMilestones() {
        build([BRANCH_NAME: 'main'])
        assert ran() == ['Checks', 'Checks/Unit', 'Build image', 'Render task definition', 'Terraform plan',
                         'Approve production', 'Deploy production']
        Map input = h.named(h.callsTo('input')[0])
        assert input.submitter == 'release-managers' && input.submitterParameter == 'APPROVER'
        assert input.ok == 'Deploy to prod'
        assert input.message == "Deploy task-api ${DIGEST} to prod?\n" +
            'Terraform plan: 1 to add, 0 to change, 0 to destroy, 0 to replace (pipeline-py-reports/terraform-plan-prod.json)'
        assert h.declarative.stage('Approve production').agent == 'none'
        assert h.declarative.stage('Approve production').timeout == [time: 24, unit: 'HOURS']

        List order = h.calls.findAll { it.step in ['milestone', 'input', 'lock'] }.collect {
            it.step == 'milestone' ? "milestone ${h.named(it).ordinal}" : it.step
        }
        assert order == ['milestone 30', 'input', 'milestone 35', 'lock', 'milestone 40']
        assert h.named(h.callsTo('lock')[0]) == [resource: 'task-api-prod', inversePrecedence: true]

        List prodRuns = h.pipelinePyRuns.findAll { it.params.env == 'prod' }
        assert prodRuns*.command == ['build', 'push', 'render', 'terraform init', 'terraform plan',
                                     'jenkins preflight', 'terraform init', 'terraform apply', 'deploy']
        assert prodRuns.every { it.env.AWS_ACCESS_KEY_ID == 'AKIAPROD' }
        assert prodRuns.find { it.command == 'jenkins preflight' }.params ==
            [env: 'prod', 'rds-snapshot': 'task-api-db']
        Map deploy = prodRuns.find { it.command == 'deploy' }
        assert deploy.params == [env: 'prod', image: DIGEST, strategy: 'canary',
                                 set: ['canary.steps=[10, 50, 100]', 'canary.bake_seconds=300']]
        // the reviewed plan is applied from the stash, on the deploy stage's agent
        assert h.named(h.callsTo('stash')[0]) == [name: 'pipeline-py-terraform-plan', includes: 'tfplan-prod.bin']
        assert h.callsTo('unstash')[0].args == ['pipeline-py-terraform-plan']
        assert prodRuns.find { it.command == 'terraform apply' }.params == [env: 'prod', 'plan-file': 'tfplan-prod.bin']
        assert h.currentBuild.description == 'prod: task-api@sha256:abababababab \u00b7 canary \u00b7 succeeded'
        assert h.archived.contains('pipeline-py-reports/deploy-prod.json')
        assert h.archived.contains('pipeline-py-reports/terraform-plan-prod.json')
        assert h.archived.contains('pipeline-py-reports/preflight-prod.json')
        assert h.secretLeaks() == []
    }

    void testTheRdsSnapshotAndAlarmCheckHappenBeforeAnythingChanges() {
        build([BRANCH_NAME: 'main'])
        List cmds = h.commandsRun()
        int preflight = cmds.indexOf('jenkins preflight')
        assert preflight >= 0 && preflight < cmds.indexOf('terraform apply') && preflight < cmds.indexOf('deploy')
    }

    void testPreflightFollowsCheckAlarmsAndRdsSnapshot() {
        build([BRANCH_NAME: 'main'], [checkAlarms: false])
        assert h.pipelinePyRuns.find { it.command == 'jenkins preflight' }.params ==
            [env: 'prod', 'skip-alarms': true, 'rds-snapshot': 'task-api-db']
        build([BRANCH_NAME: 'main'], [checkAlarms: false, rdsSnapshot: null])
        assert !('jenkins preflight' in h.commandsRun()) && 'deploy' in h.commandsRun()
        build([BRANCH_NAME: 'develop'])
        assert h.pipelinePyRuns.find { it.command == 'jenkins preflight' }.params == [env: 'staging']
    }

    void testAnAlarmInAlarmStopsTheDeployBeforeItStarts() {
        responses['jenkins preflight'] = [code: 1, result: [status: 'error', message: 'alarm task-api-prod-5xx is in ALARM']]
        build([BRANCH_NAME: 'main'])
        assert h.declarative.stage('Deploy production').status == 'failed'
        assert h.declarative.stage('Deploy production').error ==
            'pipeline-py jenkins preflight failed (nothing was left half-done): alarm task-api-prod-5xx is in ALARM'
        assert !('deploy' in h.commandsRun()) && !('terraform apply' in h.commandsRun())
        assert h.currentBuild.result == 'FAILURE'
    }

    void testTagsArePromotedToProdAfterApproval() {
        build([TAG_NAME: 'v1.4.0', BRANCH_NAME: 'v1.4.0'])
        assert ran().containsAll(['Approve production', 'Deploy production'])
        assert h.named(h.callsTo('pushImage')[0]).tags == ['git-0123456789ab', 'v1.4.0']
        assert h.pipelinePyRuns.find { it.command == 'deploy' }.params.env == 'prod'
    }

    void testTagsAreNotPromotedWhenPromoteTagsIsOff() {
        build([TAG_NAME: 'v1.4.0', BRANCH_NAME: 'v1.4.0'], [promoteTags: false, prCredentialsId: 'aws-readonly'])
        assert !('deploy' in h.commandsRun()) && !h.callsTo('input')
    }

    void testARejectedApprovalAbortsWithoutDeploying() {
        build([BRANCH_NAME: 'main'], [:], false)
        h.inputHandler = { Map a -> throw new FlowInterruptedException('Rejected by bob') }
        h.vars.ecsPipeline.call(baseArgs())
        assert h.declarative.stage('Approve production').status == 'aborted'
        assert h.declarative.stage('Deploy production').status == 'skipped-after-failure'
        assert !('deploy' in h.commandsRun()) && !h.callsTo('lock')
        assert h.currentBuild.result == 'ABORTED'
    }

    void testUnstableTestsCloseTheGate() {
        build([BRANCH_NAME: 'develop'], [testResults: 'build/test-results/*.xml'], false)
        h.junitHandler = { Object a -> h.currentBuild.result = 'UNSTABLE' }
        h.vars.ecsPipeline.call(baseArgs() + [testResults: 'build/test-results/*.xml'])
        assert h.named(h.callsTo('junit')[0]) == [testResults: 'build/test-results/*.xml', allowEmptyResults: false]
        assert h.declarative.stage('Deploy staging').error ==
            'gate: the build is UNSTABLE (failed or unstable tests); not deploying to staging'
        assert !('deploy' in h.commandsRun())
    }

    void testAFailingCheckSkipsEverythingAfterIt() {
        build([BRANCH_NAME: 'develop'], [:], false)
        h.shHandler = { Map sh, Map env, File cwd -> 2 }
        h.vars.ecsPipeline.call(baseArgs())
        assert h.declarative.stage('Checks').status == 'failed'
        assert h.declarative.executed.findAll { it.status == 'skipped-after-failure' }*.name ==
            ['Build image', 'Render task definition', 'Terraform plan', 'Deploy staging', 'Approve production', 'Deploy production']
        assert h.commandsRun() == []
    }

    void testAPlanWithoutChangesAppliesNothing() {
        planSummary = [add: [], change: [], destroy: [], replace: []]
        build([BRANCH_NAME: 'develop'])
        assert !('terraform apply' in h.commandsRun()) && !h.callsTo('stash') && !h.callsTo('unstash')
        assert 'deploy' in h.commandsRun()
    }

    void testDestroysAreCalledOutInTheApproval() {
        planSummary = [add: [], change: [], destroy: ['aws_db_instance.main'], replace: ['aws_lb.x']]
        build([BRANCH_NAME: 'main'])
        assert h.named(h.callsTo('input')[0]).message.endsWith('WARNING: the plan destroys or replaces 2 resource(s).')
    }

    void testAFailedDeployReportsTheRollback() {
        responses['deploy'] = [code: 1, result: [status: 'rolled_back', strategy: 'rolling', message: 'circuit breaker tripped']]
        build([BRANCH_NAME: 'develop'])
        assert h.declarative.stage('Deploy staging').error ==
            'pipeline-py deploy failed and was rolled back safely: circuit breaker tripped'
        assert h.currentBuild.description.endsWith('\u00b7 rolling \u00b7 rolled_back')
        assert h.archived.contains('pipeline-py-reports/deploy-staging.json')
        assert h.log.any { it.startsWith('ecsPipeline: task-api FAILURE') }
    }

    void testEveryStageHasATimeoutAndConcurrentBuildsAreDisabled() {
        build([BRANCH_NAME: 'main'])
        assert h.declarative.allStages()*.name == ['Checks', 'Build image', 'Render task definition', 'Terraform plan',
                                                   'Deploy staging', 'Approve production', 'Deploy production']
        h.declarative.allStages().each { assert it.timeout(): "stage '${it.name}' has no timeout" }
        assert h.declarative.options*.name.contains('disableConcurrentBuilds')
        assert h.declarative.agent == 'none'
        assert h.declarative.allStages().findAll { it.name != 'Approve production' }.every { it.agent == [label: 'docker'] }
    }

    void testBadConfigurationFailsBeforeAnythingRuns() {
        Map cases = [
            ([prodSubmitter: null])                      : "ecsPipeline: missing required parameter 'prodSubmitter' (the users or groups who may approve a deploy to prod)",
            ([service: null])                            : "ecsPipeline: missing required parameter 'service'",
            ([stagingEnv: 'prod'])                       : "ecsPipeline: stagingEnv and prodEnv are both 'prod'",
            ([checks: [Unit: 'make test']])              : "ecsPipeline: checks['Unit'] must be a closure such as { sh 'make test' }",
            ([prodDeploy: [strategy: 'canary', image: 'x']]): "ecsPipeline: prodDeploy has unknown ecsDeploy parameter 'image' (allowed: strategy, vars, timeout, pollInterval, rollbackTimeout, desiredCount, forceNewDeployment, pauseAt, rolling, canary, linear, blueGreen)",
            ([deployTimeoutMinutes: 0])                  : 'ecsPipeline: deployTimeoutMinutes must be positive, got 0',
            ([checks: [:]])                              : 'ecsPipeline: checks is empty, so nothing would be tested before deploying to staging (set checks, or requireChecks: false)',
            ([agentLabels: 'x'])                         : "ecsPipeline: unknown parameter 'agentLabels'",
        ]
        cases.each { Map overrides, String message ->
            build([BRANCH_NAME: 'develop'], [:], false)
            Map r = h.attempt { h.vars.ecsPipeline.call(baseArgs() + overrides) }
            assert r.error?.startsWith(message)
            assert !h.callsTo('pipeline') && !h.callsTo('sh')
        }
    }

    void testAnUnknownProdStrategyFailsBeforeTheAgentIsUsed() {
        build([BRANCH_NAME: 'main'], [:], false)
        h.vars.ecsPipeline.call(baseArgs() + [prodDeploy: [strategy: 'big-bang']])
        assert h.declarative.stage('Deploy production').error ==
            "ecsDeploy: unknown strategy 'big-bang' (known: rolling, blue-green, canary, linear)"
        assert !('deploy' in h.commandsRun())
    }
}
