import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

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
                case 'scan': return [image: p.image, passed: true, fail_on: 'HIGH', blocking: [], allowed: [], below_threshold: 0]
                case 'db snapshot': return [instance: p.instance ?: "task-api-${p.env}", snapshot: "task-api-${p.env}-snap-1",
                                            snapshot_status: 'available']
                case 'diagnose': return [env: p.env, verdict: 'ok', problems: [], unknown: [],
                                         checks: (p.only ?: ['service', 'targets']).collect { [name: it, verdict: 'ok'] }]
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
        assert h.declarative.skipped() == ['Deploy staging', 'Image scan', 'Approve production', 'Deploy production', 'Verify']
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
                                   'config', 'jenkins preflight', 'terraform init', 'terraform apply', 'deploy']
        assert h.pipelinePyRuns.every { it.params.env == 'staging' && it.env.AWS_ACCESS_KEY_ID == 'AKIASTAGING' }
        assert h.pipelinePyRuns.every { it.cwd.path.endsWith('examples/task-api') }
        assert !h.callsTo('input')
        assert h.named(h.callsTo('lock')[0]) == [resource: 'task-api-staging', inversePrecedence: true]
        Map deploy = h.pipelinePyRuns.find { it.command == 'deploy' }
        // pipeline-py's own lock: a deploy from elsewhere (another controller) is waited for, within the stage's bound
        assert deploy.params == [env: 'staging', image: DIGEST, 'wait-for-lock': '120m']
        Map preflight = h.pipelinePyRuns.find { it.command == 'jenkins preflight' }
        assert preflight.params == [env: 'staging']
        assert !('scan' in h.commandsRun()) && !('db snapshot' in h.commandsRun())  // prod only
        assert h.named(h.callsTo('pushImage')[0]).tags == ['git-0123456789ab']
        assert h.currentBuild.description.startsWith('staging: task-api@sha256:abababab')
    }

    void testMainDeploysToProdAfterApprovalUnderLockAndMilestones() {
        build([BRANCH_NAME: 'main'])
        assert ran() == ['Checks', 'Checks/Unit', 'Build image', 'Render task definition', 'Terraform plan',
                         'Image scan', 'Approve production', 'Deploy production']
        Map input = h.named(h.callsTo('input')[0])
        assert input.submitter == 'release-managers' && input.submitterParameter == 'APPROVER'
        assert input.ok == 'Deploy to prod'
        assert input.message == "Deploy task-api ${DIGEST} to prod?\n" +
            'Image scan: passed: nothing at or above HIGH that is not allowlisted\n' +
            'Terraform plan: 1 to add, 0 to change, 0 to destroy, 0 to replace (pipeline-py-reports/terraform-plan-prod.json)'
        assert h.declarative.stage('Approve production').agent == 'none'
        assert h.declarative.stage('Approve production').timeout == null
        assert h.callsTo('timeout').collect { h.named(it) }.contains([time: 24, unit: 'HOURS'])

        List order = h.calls.findAll { it.step in ['milestone', 'input', 'lock'] }.collect {
            it.step == 'milestone' ? "milestone ${h.named(it).ordinal}" : it.step
        }
        assert order == ['milestone 30', 'input', 'milestone 35', 'lock', 'milestone 40']
        assert h.named(h.callsTo('lock')[0]) == [resource: 'task-api-prod', inversePrecedence: true]

        List prodRuns = h.pipelinePyRuns.findAll { it.params.env == 'prod' }
        assert prodRuns*.command == ['build', 'push', 'render', 'terraform init', 'terraform plan', 'scan',
                                     'config', 'scan', 'jenkins preflight', 'db snapshot',
                                     'terraform init', 'terraform apply', 'deploy']
        assert prodRuns.every { it.env.AWS_ACCESS_KEY_ID == 'AKIAPROD' }
        assert prodRuns.findAll { it.command == 'scan' }*.params == [[env: 'prod', image: DIGEST]] * 2
        assert prodRuns.find { it.command == 'jenkins preflight' }.params == [env: 'prod']
        assert prodRuns.find { it.command == 'db snapshot' }.params ==
            [env: 'prod', instance: 'task-api-db', build: 'jenkins-apps-task-api-main-42', timeout: 1800]
        Map deploy = prodRuns.find { it.command == 'deploy' }
        assert deploy.params == [env: 'prod', image: DIGEST, strategy: 'canary', 'wait-for-lock': '120m',
                                 set: ['canary.steps=[10, 50, 100]', 'canary.bake_seconds=300']]
        // the reviewed plan is applied from the stash, on the deploy stage's agent
        assert h.named(h.callsTo('stash')[0]) == [name: 'pipeline-py-terraform-plan', includes: 'tfplan-prod.bin']
        assert h.callsTo('unstash')[0].args == ['pipeline-py-terraform-plan']
        assert prodRuns.find { it.command == 'terraform apply' }.params == [env: 'prod', 'plan-file': 'tfplan-prod.bin']
        assert h.currentBuild.description == 'prod: task-api@sha256:abababababab \u00b7 canary \u00b7 succeeded'
        assert h.archived.contains('pipeline-py-reports/deploy-prod.json')
        assert h.archived.contains('pipeline-py-reports/terraform-plan-prod.json')
        assert h.archived.contains('pipeline-py-reports/preflight-prod.json')
        assert h.archived.contains('pipeline-py-reports/scan-prod-before-approval.json')
        assert h.archived.contains('pipeline-py-reports/scan-prod.json')
        assert h.archived.contains('pipeline-py-reports/db-snapshot-prod.json')
        assert h.secretLeaks() == []
    }

    /** Under the lock, before anything changes: the scan gate, then the alarms, then the snapshot. */
    void testTheGatesAndTheSnapshotHappenUnderTheLockBeforeAnythingChanges() {
        build([BRANCH_NAME: 'main'])
        List cmds = h.commandsRun()
        int lock = h.calls.findIndexOf { it.step == 'lock' }
        int scan = cmds.lastIndexOf('scan')
        assert scan < cmds.indexOf('jenkins preflight')
        assert cmds.indexOf('jenkins preflight') < cmds.indexOf('db snapshot')
        assert cmds.indexOf('db snapshot') < cmds.indexOf('terraform apply')
        assert cmds.indexOf('db snapshot') < cmds.indexOf('deploy')
        // the second scan runs inside the lock, the first before the approval's input
        assert h.calls.findIndexOf { it.step == 'input' } < lock
        assert h.pipelinePyRuns.findAll { it.command == 'scan' }.size() == 2
        assert h.log.contains('dbSnapshot (prod): task-api-prod-snap-1 of task-api-db: available')
    }

    void testPreflightFollowsCheckAlarmsAndTheSnapshotFollowsRdsSnapshot() {
        build([BRANCH_NAME: 'main'], [checkAlarms: false])
        assert !('jenkins preflight' in h.commandsRun())
        assert h.pipelinePyRuns.find { it.command == 'db snapshot' }.params.instance == 'task-api-db'
        // rdsSnapshot: true snapshots the config's database.instance (pipeline-py's default)
        build([BRANCH_NAME: 'main'], [rdsSnapshot: true])
        assert !h.pipelinePyRuns.find { it.command == 'db snapshot' }.params.containsKey('instance')
        build([BRANCH_NAME: 'main'], [checkAlarms: false, rdsSnapshot: null])
        assert !('jenkins preflight' in h.commandsRun()) && !('db snapshot' in h.commandsRun())
        assert 'deploy' in h.commandsRun()
        build([BRANCH_NAME: 'develop'])
        assert h.pipelinePyRuns.find { it.command == 'jenkins preflight' }.params == [env: 'staging']
        assert !('db snapshot' in h.commandsRun())
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
            ['Build image', 'Render task definition', 'Terraform plan', 'Deploy staging', 'Image scan',
             'Approve production', 'Deploy production', 'Verify']
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

    /**
     * Issue A.4: a stage's options timeout starts before its agent is allocated, so every stage
     * sets its timeout inside steps, on the agent. Issue A.2: no disableConcurrentBuilds().
     */
    void testEveryStageTimesOutFromInsideItsStepsAndConcurrentBuildsAreAllowed() {
        build([BRANCH_NAME: 'main'])
        assert h.declarative.allStages()*.name == ['Checks', 'Build image', 'Render task definition', 'Terraform plan',
                                                   'Deploy staging', 'Image scan', 'Approve production',
                                                   'Deploy production', 'Verify']
        h.declarative.allStages().each { assert it.timeout() == null: "stage '${it.name}' has an options timeout" }
        List timeouts = h.callsTo('timeout').collect { h.named(it) }
        assert timeouts.count { it == [time: 30, unit: 'MINUTES'] } == 5  // checks, build, render, plan, image scan
        assert timeouts.contains([time: 24, unit: 'HOURS'])
        assert timeouts.count { it.unit == 'MINUTES' && it.time > 120 } == 1  // the deploy stage: see below
        assert !h.declarative.options*.name.contains('disableConcurrentBuilds')
        assert h.declarative.agent == 'none'
        assert h.declarative.allStages().findAll { it.name != 'Approve production' }.every { it.agent == [label: 'docker'] }
    }

    void testABusyAgentPoolDoesNotTimeOutAStageThatHasNotStarted() {
        build([BRANCH_NAME: 'main'], [:], false)
        h.agentWaitMinutes = 45  // longer than stageTimeoutMinutes (30) for every stage's agent
        h.vars.ecsPipeline.call(baseArgs())
        assert h.currentBuild.currentResult == 'SUCCESS'
        assert h.declarative.ran() == ['Checks', 'Checks/Unit', 'Build image', 'Render task definition', 'Terraform plan',
                                       'Image scan', 'Approve production', 'Deploy production']
    }

    void testAStageThatOverrunsItsTimeoutOnTheAgentIsStillStopped() {
        responses['build'] = [code: 0, result: [image_id: 'sha256:1', tags: ['x']], minutes: 31]
        build([BRANCH_NAME: 'develop'])
        assert h.declarative.stage('Build image').status == 'aborted'
        assert h.declarative.stage('Build image').error.startsWith('Timeout has been exceeded')
        assert !('deploy' in h.commandsRun())
    }

    /** Issue A.3: Jenkins' timeout of the deploy stage is derived from pipeline-py's own bounds. */
    void testTheDeployStageTimeoutCoversPipelinePysTimeoutAndRollback() {
        responses['config'] = [status: 'ok', config: [timeout: 3600.0, rollback_timeout: 1200.0, lock: [wait: 600.0]]]
        build([BRANCH_NAME: 'main'])
        // 120 min for the Jenkins lock, the gates and apply + pipeline-py's (600 + 3600 + 1200 + 60) s in minutes
        assert h.callsTo('timeout').collect { h.named(it) }.contains([time: 211, unit: 'MINUTES'])
        assert h.log.contains("ecsPipeline: prod deploy stage timeout 211 min (120 + pipeline-py's lock wait 600s + " +
            "timeout 3600s + rollback_timeout 1200s + 60s)")
        // the config's lock.wait applies as it is: ecsDeploy passes no waitForLock of its own
        Map deploy = h.pipelinePyRuns.find { it.command == 'deploy' }
        assert deploy.params.keySet() == ['env', 'image', 'strategy', 'set'] as Set

        responses['config'] = [status: 'ok', config: [timeout: 3600.0, rollback_timeout: 1200.0, lock: [wait: 0.0]]]
        build([BRANCH_NAME: 'develop'], [stagingDeploy: [timeout: '15m', rollbackTimeout: 300]])
        // without lock.wait ecsPipeline waits deployTimeoutMinutes (120) for pipeline-py's lock
        assert h.callsTo('timeout').collect { h.named(it) }.contains([time: 120 + 120 + 21, unit: 'MINUTES'])
        assert h.pipelinePyRuns.find { it.command == 'deploy' }.params['wait-for-lock'] == '120m'

        build([BRANCH_NAME: 'develop'], [stagingDeploy: [waitForLock: '0s', timeout: 600, rollbackTimeout: 600],
                                         deployTimeoutMinutes: 30])
        assert h.callsTo('timeout').collect { h.named(it) }.contains([time: 30 + 21, unit: 'MINUTES'])
        assert h.pipelinePyRuns.find { it.command == 'deploy' }.params['wait-for-lock'] == '0s'  // fail at once
    }

    /** Issue A.3: an abort mid-deploy is passed on to pipeline-py, and the build says what state it left. */
    void testAnAbortMidDeployThatRolledBackSaysSo() {
        responses['deploy'] = [abort: 'Aborted by alice', code: 1,
                               result: [status: 'rolled_back', strategy: 'canary', message: 'aborted by SIGTERM; traffic back on the stable revision']]
        build([BRANCH_NAME: 'main'])
        assert h.currentBuild.result == 'ABORTED'
        assert h.declarative.stage('Deploy production').status == 'aborted'
        assert h.currentBuild.description == 'prod: task-api@sha256:abababababab \u00b7 canary \u00b7 aborted, rolled back safely'
        assert h.log.any { it.startsWith('pipeline-py deploy (env prod) was interrupted by the abort/timeout and rolled back safely') }
        assert h.archived.contains('pipeline-py-reports/deploy-prod.json')
        Map wait = h.callsTo('sh').find { it.env.PP_GRACE }
        assert wait.env.PP_GRACE == '660'  // rollback_timeout 600 (pipeline-py's default) + 60
    }

    void testAnAbortMidCanaryThatCouldNotRollBackInTimeAsksForAHuman() {
        responses['deploy'] = [abort: 'Aborted by alice', finishes: false]
        build([BRANCH_NAME: 'main'])
        assert h.currentBuild.result == 'ABORTED'
        assert h.currentBuild.description == 'prod: task-api@sha256:abababababab \u00b7 canary \u00b7 ABORTED, MANUAL ACTION REQUIRED'
        String line = h.log.find { it.startsWith('MANUAL ACTION REQUIRED: pipeline-py deploy (env prod) was interrupted') }
        assert line.contains('had not finished restoring a safe state after 660s')
        assert line.contains('pipeline-py status --env prod')
        assert h.log.any { it.startsWith('ecsPipeline: task-api ABORTED') }
    }

    void testADeployStageTimeoutIsReportedLikeAnAbort() {
        responses['deploy'] = [code: 3, result: [status: 'failed', message: 'rollback timed out'], minutes: 500]
        build([BRANCH_NAME: 'develop'])
        assert h.currentBuild.result == 'ABORTED'
        assert h.currentBuild.description.endsWith('\u00b7 ABORTED, MANUAL ACTION REQUIRED')
        assert h.log.any { it.startsWith('MANUAL ACTION REQUIRED: pipeline-py deploy (env staging) was interrupted by the abort/timeout and could not restore a safe state: rollback timed out') }
    }

    void testBadConfigurationFailsBeforeAnythingRuns() {
        Map cases = [
            ([prodSubmitter: null])                      : "ecsPipeline: missing required parameter 'prodSubmitter' (the users or groups who may approve a deploy to prod)",
            ([service: null])                            : "ecsPipeline: missing required parameter 'service'",
            ([stagingEnv: 'prod'])                       : "ecsPipeline: stagingEnv and prodEnv are both 'prod'",
            ([checks: [Unit: 'make test']])              : "ecsPipeline: checks['Unit'] must be a closure such as { sh 'make test' }",
            ([prodDeploy: [strategy: 'canary', image: 'x']]): "ecsPipeline: prodDeploy has unknown ecsDeploy parameter 'image' (allowed: strategy, vars, timeout, pollInterval, rollbackTimeout, desiredCount, forceNewDeployment, pauseAt, waitForLock, reportDir, rolling, canary, linear, blueGreen, native)",
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
            "ecsDeploy: unknown strategy 'big-bang' (known: rolling, blue-green, canary, linear, ecs-blue-green, ecs-linear, ecs-canary)"
        assert !('deploy' in h.commandsRun())
    }

    /**
     * Issue A.6: with Declarative's script splitting on, the blocks of pipeline { } become methods
     * and lose call()'s locals. ecsPipeline keeps its settings, flow and state in fields.
     */
    void testThePipelineBlockUsesNoLocalOfCallSoScriptSplittingCanMoveIt() {
        File f = PipelineHarness.repoFile('vars/ecsPipeline.groovy')
        assert ScriptSplitting.localsUsedInPipeline('ecsPipeline', f.getText('UTF-8')) == []
        // the check finds what splitting breaks: the pattern ecsPipeline used to have
        String old = """
            def call(Map args) {
                Map cfg = args
                Map state = [:]
                pipeline {
                    agent { label cfg.agentLabel }
                    stages { stage('x') { steps { script { state.done = true } } } }
                }
            }
        """
        assert ScriptSplitting.localsUsedInPipeline('old', old) == ['cfg (line 6)', 'state (line 7)']
    }

    // ---- issue 14: the image scan gate -----------------------------------------------------------

    void testAFailingScanStopsTheBuildBeforeAnybodyIsAskedToApprove() {
        responses['scan'] = [code: 1, result: [status: 'error', passed: false, message:
            'image scan gate: 1 finding at or above HIGH in task-api@sha256:abab: CVE-2026-0001 (CRITICAL: openssl). ' +
            'the allowlist entry for CVE-2025-9 expired on 2026-04-30 (waiting for upstream); it no longer allows the finding']]
        build([BRANCH_NAME: 'main'])
        assert h.declarative.stage('Image scan').status == 'failed'
        assert h.declarative.stage('Image scan').error.startsWith('pipeline-py scan failed: image scan gate: 1 finding at or ' +
            'above HIGH in task-api@sha256:abab: CVE-2026-0001 (CRITICAL: openssl). the allowlist entry for CVE-2025-9 expired')
        assert !h.callsTo('input') && !('deploy' in h.commandsRun())
        assert h.currentBuild.result == 'FAILURE'
        assert h.archived.contains('pipeline-py-reports/scan-prod-before-approval.json')
    }

    /** An allowlist entry can expire (or a new CVE appear) while the approval waits: the gate runs again under the lock. */
    void testTheScanRunsAgainUnderTheLockAndCanStillStopTheDeploy() {
        int scans = 0
        responses['scan'] = { Map p, Map e ->
            scans++ == 0 ? [image: p.image, passed: true, fail_on: 'HIGH', allowed: [[id: 'CVE-2025-9', expires: '2026-05-01']]] :
                [code: 1, result: [status: 'error', message: 'image scan gate: the allowlist entry for CVE-2025-9 expired on 2026-05-01']]
        }
        build([BRANCH_NAME: 'main'])
        assert h.named(h.callsTo('input')[0]).message.contains(
            'Image scan: passed: nothing at or above HIGH that is not allowlisted (1 allowlisted, the first entry expires 2026-05-01)')
        assert h.declarative.stage('Deploy production').error ==
            'pipeline-py scan failed: image scan gate: the allowlist entry for CVE-2025-9 expired on 2026-05-01'
        List cmds = h.commandsRun()
        assert !('jenkins preflight' in cmds) && !('db snapshot' in cmds) && !('deploy' in cmds)
        assert !('diagnose' in cmds)  // nothing was deployed: nothing to diagnose
    }

    void testImageScanFalseSkipsTheGate() {
        build([BRANCH_NAME: 'main'], [imageScan: false])
        assert 'Image scan' in h.declarative.skipped()
        assert !('scan' in h.commandsRun()) && 'deploy' in h.commandsRun()
    }

    // ---- issue 16: the human gate of a paused deploy ---------------------------------------------

    Map nativeDeploy = [strategy: 'ecs-canary', pauseAt: 'POST_TEST_TRAFFIC_SHIFT', native: [canaryPercent: 10]]

    Map paused(Map p) {
        return [status: 'paused', strategy: p.strategy, task_definition_arn: 'arn:td:8',
                paused: [stage: 'POST_TEST_TRAFFIC_SHIFT', weight: 0, hook_id: 'h-1', expires_at: '2026-05-02T10:00:00+00:00']]
    }

    void testAPausedNativeDeployAsksForPromotionUnderTheLockAndPromotes() {
        responses['deploy'] = { Map p, Map e -> paused(p) }
        responses['deploy promote'] = [status: 'succeeded', strategy: 'ecs-canary', task_definition_arn: 'arn:td:8']
        responses['config'] = [status: 'ok', config: [strategy: 'rolling', native: [gate_timeout_minutes: 30], lock: [wait: 0]]]
        build([BRANCH_NAME: 'main'], [prodDeploy: nativeDeploy + [timeout: '20m'], promotionTimeoutMinutes: 45])
        assert h.commandsRun().takeRight(2) == ['deploy', 'deploy promote']
        Map deploy = h.pipelinePyRuns.find { it.command == 'deploy' }
        assert deploy.params.subMap(['strategy', 'pause-at', 'set']) ==
            [strategy: 'ecs-canary', 'pause-at': 'POST_TEST_TRAFFIC_SHIFT', set: ['native.canary_percent=10']]
        Map promote = h.pipelinePyRuns.find { it.command == 'deploy promote' }
        assert promote.params == [env: 'prod', strategy: 'ecs-canary', timeout: '20m', 'wait-for-lock': '120m']
        assert h.log.contains('ecsDeploy (prod): paused at POST_TEST_TRAFFIC_SHIFT with 0% of production traffic on the new ' +
            'revision; ECS rolls it back at 2026-05-02T10:00:00+00:00 unless it is promoted')
        assert promote.env.AWS_ACCESS_KEY_ID == 'AKIAPROD'

        List inputs = h.callsTo('input').collect { h.named(it) }
        assert inputs.size() == 2  // the release approval, then the promotion
        assert inputs[1] == [message: "Promote task-api ${DIGEST} on prod?\n".toString() +
            'The ecs-canary deploy is paused at POST_TEST_TRAFFIC_SHIFT with 0% of production traffic on the new revision.\n' +
            'ECS rolls it back at 2026-05-02T10:00:00+00:00 unless it is promoted (native.gate_timeout_minutes).\n' +
            'Without an answer within 25 min the deploy is aborted and rolled back.',
            ok: 'Promote to prod', submitterParameter: 'APPROVER', submitter: 'release-managers']
        // the promotion input waits 25 min: under ECS' 30-minute gate hook, less than promotionTimeoutMinutes
        assert h.callsTo('timeout').collect { h.named(it) }.contains([time: 25, unit: 'MINUTES'])
        // inside the lock, and covered by the stage's timeout (120 + 2 x (7200 + 1200 + 600 + 60) s + 25 min)
        List order = h.calls.findAll { it.step in ['lock', 'input'] }*.step
        assert order == ['input', 'lock', 'input']
        assert h.callsTo('timeout').collect { h.named(it) }.contains([time: 120 + 151 + 25 + 151, unit: 'MINUTES'])
        assert h.log.contains('ecsPipeline: prod promotion approved by alice')
        assert h.currentBuild.currentResult == 'SUCCESS'
        assert h.currentBuild.description == 'prod: task-api@sha256:abababababab \u00b7 ecs-canary \u00b7 succeeded'
    }

    void testARejectedPromotionAbortsThePausedDeployAndTheBuildEndsAborted() {
        responses['deploy'] = { Map p, Map e -> paused(p) }
        responses['deploy abort'] = [code: 1, result: [status: 'rolled_back', strategy: 'ecs-canary',
                                                       message: 'aborted at POST_TEST_TRAFFIC_SHIFT; traffic stays on the stable revision']]
        build([BRANCH_NAME: 'main'], [prodDeploy: nativeDeploy], false)
        int asked = 0
        h.inputHandler = { Map a ->
            if (asked++ == 0) {
                return 'alice'
            }
            throw new FlowInterruptedException('Rejected by bob')
        }
        h.vars.ecsPipeline.call(baseArgs() + [prodDeploy: nativeDeploy])
        assert h.commandsRun().takeRight(2) == ['deploy', 'deploy abort']
        assert h.pipelinePyRuns.find { it.command == 'deploy abort' }.params == [env: 'prod', strategy: 'ecs-canary', 'wait-for-lock': '120m']
        assert h.currentBuild.result == 'ABORTED'
        assert h.declarative.stage('Deploy production').status == 'aborted'
        assert h.currentBuild.description == 'prod: task-api@sha256:abababababab \u00b7 ecs-canary \u00b7 rolled_back'
        assert h.log.contains('ecsPipeline: the prod promotion was rejected, not approved within 60 min, or the build was ' +
            'aborted: aborting the paused deploy')
        assert !('diagnose' in h.commandsRun())  // aborted, not failed
    }

    void testAnUnansweredPromotionTimesOutAndIsAborted() {
        responses['deploy'] = { Map p, Map e -> paused(p) }
        responses['deploy abort'] = [code: 1, result: [status: 'rolled_back', message: 'rolled back']]
        build([BRANCH_NAME: 'develop'], [stagingDeploy: [strategy: 'canary', pauseAt: 50], promotionTimeoutMinutes: 20], false)
        h.inputHandler = { Map a -> h.advance(21); 'nobody' }
        h.vars.ecsPipeline.call(baseArgs() + [stagingDeploy: [strategy: 'canary', pauseAt: 50], promotionTimeoutMinutes: 20])
        assert h.commandsRun().takeRight(2) == ['deploy', 'deploy abort']
        Map input = h.named(h.callsTo('input')[0])
        assert !input.containsKey('submitter')  // staging: anyone who may run the job
        assert h.callsTo('timeout').collect { h.named(it) }.contains([time: 20, unit: 'MINUTES'])
        assert h.currentBuild.result == 'ABORTED'
        assert !h.log.contains('ecsPipeline: staging promotion approved by nobody')
    }

    void testAnAbortThatCouldNotRestoreASafeStateAsksForAHuman() {
        responses['deploy'] = { Map p, Map e -> paused(p) }
        responses['deploy abort'] = [code: 3, result: [status: 'failed', message: 'ECS did not roll back within 600s']]
        build([BRANCH_NAME: 'main'], [prodDeploy: nativeDeploy], false)
        int asked = 0
        h.inputHandler = { Map a -> if (asked++ == 0) { return 'alice' }; throw new FlowInterruptedException('Rejected by bob') }
        h.vars.ecsPipeline.call(baseArgs() + [prodDeploy: nativeDeploy])
        assert h.currentBuild.result == 'FAILURE'
        assert h.declarative.stage('Deploy production').error ==
            'MANUAL ACTION REQUIRED: pipeline-py deploy abort failed and could not restore a safe state: ECS did not roll back within 600s'
        assert h.currentBuild.description.endsWith('\u00b7 FAILED, MANUAL ACTION REQUIRED')
        assert h.archived.contains('pipeline-py-reports/diagnose-prod.json')  // a failure after the deploy started
    }

    // ---- issue 17: runbooks in the pipeline ------------------------------------------------------

    void testAFailedDeployIsDiagnosedAndTheDiagnosisArchivedWithoutChangingTheOutcome() {
        responses['deploy'] = [code: 1, result: [status: 'rolled_back', strategy: 'rolling', message: 'circuit breaker tripped']]
        responses['diagnose'] = [code: 1, result: [status: 'problems', problems: ['stopped_tasks'], unknown: [],
                                                   checks: [[name: 'stopped_tasks', verdict: 'problem']],
                                                   message: 'diagnose staging: 1 problem(s) found: stopped_tasks']]
        build([BRANCH_NAME: 'develop'])
        Map diagnose = h.pipelinePyRuns.find { it.command == 'diagnose' }
        assert diagnose.params == [env: 'staging']
        assert diagnose.env.AWS_ACCESS_KEY_ID == 'AKIASTAGING' && diagnose.cwd.path.endsWith('examples/task-api')
        assert h.archived.contains('pipeline-py-reports/diagnose-staging.json')
        assert h.declarative.stage('Deploy staging').error == 'pipeline-py deploy failed and was rolled back safely: circuit breaker tripped'
        assert h.currentBuild.result == 'FAILURE'
        assert h.log.contains('ecsDiagnose (staging): 1 problem(s): stopped_tasks')

        // a diagnose that cannot run is reported and changes nothing either
        responses['diagnose'] = [code: 2, result: [status: 'error', message: 'unknown environment']]
        build([BRANCH_NAME: 'develop'])
        assert h.currentBuild.result == 'FAILURE'
        assert h.log.contains('catchError: ecsPipeline: the diagnose of staging after the failed deploy did not complete')
        assert h.declarative.stage('Deploy staging').error.startsWith('pipeline-py deploy failed')

        build([BRANCH_NAME: 'develop'], [diagnoseOnFailure: false])
        assert !('diagnose' in h.commandsRun())
    }

    void testVerifyChecksTheEnvironmentAfterTheDeploy() {
        build([BRANCH_NAME: 'main'], [verify: true, verifyWindow: '20m'])
        assert h.declarative.ran().takeRight(2) == ['Deploy production', 'Verify']
        Map verify = h.pipelinePyRuns.find { it.command == 'diagnose' }
        assert verify.params == [env: 'prod', since: '20m', only: ['error_rate', 'error_logs', 'service', 'targets', 'database']]
        assert h.archived.contains('pipeline-py-reports/verify-prod.json')
        assert h.currentBuild.currentResult == 'SUCCESS'

        responses['diagnose'] = [code: 1, result: [status: 'problems', problems: ['error_rate'], unknown: [], checks: [],
                                                   message: 'diagnose prod: 1 problem(s) found: error_rate']]
        build([BRANCH_NAME: 'main'], [verify: true])
        assert h.declarative.stage('Verify').error == 'pipeline-py diagnose failed: diagnose prod: 1 problem(s) found: error_rate'
        assert h.currentBuild.result == 'FAILURE'
        assert h.log.contains("ecsPipeline: the new revision is live on prod but failed verification " +
            "(pipeline-py-reports/verify-prod.json); roll back with ecsRollback(env: 'prod') or pipeline-py rollback --env prod")
        assert h.pipelinePyRuns.count { it.command == 'diagnose' } == 1  // Verify is not a deploy stage: no second diagnose
    }

    void testTheNewParametersAreChecked() {
        Map cases = [
            ([rdsSnapshot: '  '])        : "ecsPipeline: rdsSnapshot must be an RDS instance name or true (the config's database.instance)",
            ([verifyWindow: 'ten'])      : "ecsPipeline: verifyWindow must be a duration such as '10m', got 'ten'",
            ([publishHtml: 'always'])    : "ecsPipeline: publishHtml must be true, false or 'auto', not 'always'",
            ([promotionTimeoutMinutes: 0]): 'ecsPipeline: promotionTimeoutMinutes must be positive, got 0',
        ]
        cases.each { Map overrides, String message ->
            build([BRANCH_NAME: 'develop'], [:], false)
            Map r = h.attempt { h.vars.ecsPipeline.call(baseArgs() + overrides) }
            assert r.error == message
            assert !h.callsTo('sh')
        }
    }
}
