import groovy.json.JsonSlurper

/** vars/pipelinePy.groovy: the one step that installs and runs pipeline-py. */
class PipelinePyTest {
    PipelineHarness h = new PipelineHarness()

    Map paramsFileOf(Map run) {
        return (Map) new JsonSlurper().parse(new File(run.cwd, run.env.PP_PARAMS))
    }

    void testParamsTravelAsAJsonFileAndTheShellLineIsConstant() {
        h.fakePipelinePy { cmd, p, e -> [status: 'succeeded', strategy: 'canary'] }
        Map result = h.vars.pipelinePy.call(
            command: 'deploy', env: 'prod', config: 'app/pipeline.yaml', dryRun: true,
            params: [strategy: 'canary', image: 'repo@sha256:abc', var: [color: 'blue'], timeout: 600, tag: ['a', 'b']],
            set: [canary: [steps: [10, 100], bake_seconds: 30], alarms: ['x-5xx']])

        assert result == [status: 'succeeded', strategy: 'canary']
        Map run = h.pipelinePyRuns[0]
        assert run.command == 'deploy'
        assert run.params == [
            env    : 'prod', config: 'app/pipeline.yaml', dry_run: true,
            set    : ['canary.steps=[10, 100]', 'canary.bake_seconds=30', 'alarms=["x-5xx"]'],
            strategy: 'canary', image: 'repo@sha256:abc', var: [color: 'blue'], timeout: 600, tag: ['a', 'b'],
        ]
        List shCalls = h.callsTo('sh')
        assert shCalls.size() == 2
        assert shCalls[0].script == 'bash "$PP_INSTALL"'
        assert h.named(shCalls[1]) == [script: h.vars.pipelinePy.RUN_SCRIPT, returnStatus: true, label: 'pipeline-py deploy']
        assert run.env.PIPELINE_PY == '/opt/pipeline-py/1.0.0/bin/pipeline-py'
        assert run.env.PP_PARAMS == '.pipeline-py/jenkins/1-deploy.params.json'
        assert run.env.PP_RESULT == '.pipeline-py/jenkins/1-deploy.result.json'
        assert h.callsTo('writeFile').find { h.named(it).file == run.env.PP_PARAMS }
    }

    void testNothingRunsWhenTheCommandIsNotInTheAllowList() {
        h.fakePipelinePy()
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'deploy; touch /tmp/pwned') }
        assert r.error.startsWith("pipelinePy: unknown command 'deploy; touch /tmp/pwned' (known: config, build,")
        assert !h.callsTo('sh') && !h.callsTo('writeFile')
    }

    void testCommandWithSubWordsKeepsItsWords() {
        h.fakePipelinePy { cmd, p, e -> [summary: [add: 1]] }
        h.vars.pipelinePy.call(command: 'terraform plan', env: 'staging', params: ['plan-file': 'tf.plan'])
        Map run = h.pipelinePyRuns[0]
        assert run.command == 'terraform plan'
        assert run.env.PP_PARAMS == '.pipeline-py/jenkins/1-terraform-plan.params.json'
        assert run.params == [env: 'staging', 'plan-file': 'tf.plan']
    }

    void testUnknownAndMissingParametersFailBeforeTheAgentIsTouched() {
        h.fakePipelinePy()
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'status', bogus: 1, other: 2) }
        assert r.error.startsWith("pipelinePy: unknown parameters 'bogus', 'other' (known: ")
        r = h.attempt { h.vars.pipelinePy.call(params: [:]) }
        assert r.error == "pipelinePy: missing required parameter 'command'"
        r = h.attempt { h.vars.pipelinePy.call(command: 'status', params: 'strategy=canary') }
        assert r.error == "pipelinePy: parameter 'params' must be a map, got String"
        r = h.attempt { h.vars.pipelinePy.call(command: 'status', dryRun: 'yes') }
        assert r.error == "pipelinePy: parameter 'dryRun' must be true or false, got String"
        r = h.attempt { h.vars.pipelinePy.call(command: 'status', params: ['--json; id': 1]) }
        assert r.error == "pipelinePy: params key '--json; id' is not an option name"
        r = h.attempt { h.vars.pipelinePy.call(command: 'status', report: '../../etc/x') }
        assert r.error == "pipelinePy: report '../../etc/x' must be a plain file name"
        assert !h.callsTo('sh') && !h.callsTo('writeFile')
    }

    void testExitZeroReturnsTheResultMap() {
        h.fakePipelinePy { cmd, p, e -> [code: 0, result: [status: 'paused', weights: [blue: 90, green: 10]]] }
        Map r = h.vars.pipelinePy.call(command: 'deploy')
        assert r == [status: 'paused', weights: [blue: 90, green: 10]]
        assert h.currentBuild.result == null
    }

    void testExitOneOfADeployIsARollbackAndFailsTheBuild() {
        h.fakePipelinePy { cmd, p, e ->
            [code: 1, result: [status: 'rolled_back', error: 'failed', message: 'alarm task-api-5xx in ALARM', exit_code: 1]]
        }
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'deploy', env: 'prod') }
        assert r.error == 'pipeline-py deploy failed and was rolled back safely: alarm task-api-5xx in ALARM'
        assert h.currentBuild.result == 'FAILURE'
    }

    void testExitOneOfAnotherCommandSaysNothingWasLeftHalfDone() {
        h.fakePipelinePy { cmd, p, e -> [code: 1, result: [status: 'error', message: 'docker build failed']] }
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'build') }
        assert r.error == 'pipeline-py build failed (nothing was left half-done): docker build failed'
    }

    void testExitTwoIsAConfigurationErrorWithPipelinePysMessage() {
        h.fakePipelinePy { cmd, p, e ->
            [code: 2, result: [status: 'error', error: 'bad_input', message: 'pipeline.yaml:12: canary.steps must end at 100']]
        }
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'deploy') }
        assert r.error == 'pipeline-py configuration error: pipeline.yaml:12: canary.steps must end at 100'
        assert !r.error.contains('Exception') && !r.error.contains('\tat ')
    }

    void testExitThreeAsksForManualActionAndDiffersFromARollback() {
        h.fakePipelinePy { cmd, p, e ->
            [code: 3, result: [status: 'failed', error: 'human_needed', message: 'rollback timed out; 2 tasks of the new revision still running']]
        }
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'deploy') }
        assert r.error == 'MANUAL ACTION REQUIRED: pipeline-py deploy failed and could not restore a safe state: ' +
            'rollback timed out; 2 tasks of the new revision still running'
        assert h.currentBuild.result == 'FAILURE'
        assert !r.error.contains('rolled back safely')
    }

    void testAMissingResultIsAnErrorEvenAfterExitZero() {
        h.fakePipelinePy { cmd, p, e -> [code: 0, result: null] }
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'status') }
        assert r.error.startsWith('MANUAL ACTION REQUIRED: pipeline-py status failed')
        assert r.error.endsWith('pipeline-py exited with 0 without a JSON result (see the log above)')

        h = new PipelineHarness()
        h.fakePipelinePy { cmd, p, e -> [code: 137, result: 'Killed'] }
        r = h.attempt { h.vars.pipelinePy.call(command: 'status') }
        assert r.error == 'pipeline-py status exited with 137: pipeline-py exited with 137 without a JSON result (see the log above)'
    }

    void testFailOnErrorFalseReturnsTheFailureForTheCallerToHandle() {
        h.fakePipelinePy { cmd, p, e -> [code: 1, result: [status: 'rolled_back', reason: 'circuit breaker']] }
        Map r = h.vars.pipelinePy.call(command: 'deploy', failOnError: false)
        assert r == [status: 'rolled_back', reason: 'circuit breaker', exit_code: 1]
        assert h.currentBuild.result == null
        Map e = h.attempt { h.vars.pipelinePy.fail('deploy', r) }
        assert e.error == 'pipeline-py deploy failed and was rolled back safely: circuit breaker'
    }

    void testAwsCredentialsAreBoundByIdToTheShStepOnlyAndNeverLogged() {
        h.awsCredential('aws-prod', 'AKIAPRODKEY', 'pr0d/s3cret+KEY')
        h.usernamePasswordCredential('jenkins-api', 'deployer', 'jenkins-t0ken-value')
        h.fakePipelinePy { cmd, p, e -> [status: 'ok', echoed: p] }
        h.vars.pipelinePy.call(command: 'jenkins sync', awsCredentialsId: 'aws-prod', jenkinsCredentialsId: 'jenkins-api',
            params: [folder: 'apps'])

        List bindings = h.callsTo('withCredentials')[0].args[0]
        assert bindings == [
            [$class           : 'AmazonWebServicesCredentialsBinding', credentialsId: 'aws-prod',
             accessKeyVariable: 'AWS_ACCESS_KEY_ID', secretKeyVariable: 'AWS_SECRET_ACCESS_KEY'],
            [$type           : 'usernamePassword', credentialsId: 'jenkins-api',
             usernameVariable: 'JENKINS_USER', passwordVariable: 'JENKINS_API_TOKEN'],
        ]
        Map run = h.pipelinePyRuns[0]
        assert run.env.AWS_ACCESS_KEY_ID == 'AKIAPRODKEY' && run.env.AWS_SECRET_ACCESS_KEY == 'pr0d/s3cret+KEY'
        assert run.env.JENKINS_USER == 'deployer' && run.env.JENKINS_API_TOKEN == 'jenkins-t0ken-value'
        assert h.secrets == ['pr0d/s3cret+KEY', 'jenkins-t0ken-value'] as Set
        assert h.secretLeaks() == []
        assert !new File(run.cwd, run.env.PP_PARAMS).text.contains('s3cret')
        // the install runs outside the credentials: nothing secret reaches pip
        assert !h.callsTo('sh')[0].env.AWS_SECRET_ACCESS_KEY
    }

    void testAwsCredentialsMayBeAUsernamePassword() {
        h.usernamePasswordCredential('aws-up', 'AKIAUP', 'up-secret-value')
        h.fakePipelinePy { cmd, p, e -> [status: 'ok'] }
        h.vars.pipelinePy.call(command: 'status', awsCredentialsId: 'aws-up', awsCredentialsType: 'usernamePassword')
        assert h.callsTo('withCredentials')[0].args[0] == [[$type: 'usernamePassword', credentialsId: 'aws-up',
            usernameVariable: 'AWS_ACCESS_KEY_ID', passwordVariable: 'AWS_SECRET_ACCESS_KEY']]
        assert h.pipelinePyRuns[0].env.AWS_SECRET_ACCESS_KEY == 'up-secret-value'
        assert h.secretLeaks() == []
    }

    void testAMissingCredentialIdIsAClearMessageNamingTheParameter() {
        h.fakePipelinePy()
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'deploy', awsCredentialsId: 'aws-typo') }
        assert r.error == "credential 'aws-typo' not found (parameter awsCredentialsId): add it in Jenkins or fix the ID"
        assert h.pipelinePyRuns == []

        h = new PipelineHarness()
        h.fakePipelinePy()
        h.awsCredential('aws-ok')
        r = h.attempt { h.vars.pipelinePy.call(command: 'jenkins build', awsCredentialsId: 'aws-ok', jenkinsCredentialsId: 'nope') }
        assert r.error == "credential 'nope' not found (parameter jenkinsCredentialsId): add it in Jenkins or fix the ID"
    }

    void testACredentialOfTheWrongTypeSaysSo() {
        h.fakePipelinePy()
        h.usernamePasswordCredential('aws-up', 'AKIA', 'some-secret-1')
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'status', awsCredentialsId: 'aws-up') }
        assert r.error.startsWith("credential 'aws-up' (parameter awsCredentialsId) cannot be bound to " +
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: Credentials 'aws-up' is of type 'usernamePassword'")
    }

    void testInstallPinsTheLibraryVersionAndPassesTheSourceOnlyWhenGiven() {
        h.fakePipelinePy { cmd, p, e -> [:] }
        h.vars.pipelinePy.call(command: 'status')
        h.vars.pipelinePy.call(command: 'status', pipelinePySource: 'https://pkgs.example.com/pipeline_py-1.0.0-py3-none-any.whl')
        List installs = h.callsTo('sh').findAll { it.env.PP_INSTALL }
        String version = PipelineHarness.repoFile('resources/pipeline-py/VERSION').text.trim()
        assert version ==~ /\d+\.\d+\.\d+/
        assert installs*.env.PIPELINE_PY_VERSION == [version, version]
        assert installs[0].env.PIPELINE_PY_SOURCE == null
        assert installs[1].env.PIPELINE_PY_SOURCE == 'https://pkgs.example.com/pipeline_py-1.0.0-py3-none-any.whl'
        assert h.named(installs[0]).returnStdout == true
        assert h.callsTo('libraryResource')*.args*.getAt(0) as Set == ['pipeline-py/VERSION', 'pipeline-py/install.sh'] as Set
    }

    void testEveryCallKeepsItsOwnFilesAndReportsAreArchived() {
        h.fakePipelinePy { cmd, p, e -> [code: cmd == 'deploy' ? 1 : 0, result: [status: cmd == 'deploy' ? 'rolled_back' : 'ok']] }
        h.vars.pipelinePy.call(command: 'render')
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'deploy', report: 'deploy-prod.json') }
        assert r.error.contains('rolled back safely')
        assert h.pipelinePyRuns*.env*.PP_PARAMS == ['.pipeline-py/jenkins/1-render.params.json',
                                                    '.pipeline-py/jenkins/2-deploy.params.json']
        assert h.pipelinePyRuns[1].env.PP_RESULT == 'pipeline-py-reports/deploy-prod.json'
        assert h.named(h.callsTo('archiveArtifacts')[0]) ==
            [artifacts: 'pipeline-py-reports/deploy-prod.json', allowEmptyArchive: true, fingerprint: false]
        assert h.archived == ['pipeline-py-reports/deploy-prod.json']
    }

    void testGStringsArriveAsPlainStrings() {
        h.fakePipelinePy { cmd, p, e -> [:] }
        String tag = 'v1'
        h.vars.pipelinePy.call(command: 'build', params: [tag: ["app-${tag}", "${tag}-x"]], set: [image: [target: "t-${tag}"]])
        assert h.pipelinePyRuns[0].params == [set: ['image.target="t-v1"'], tag: ['app-v1', 'v1-x']]
    }

    /**
     * The real thing: the step's constant shell line runs under `sh -xe` with a stub pipeline-py
     * that reports its argv and the params file it was given, installed by the real install.sh
     * (source "path"). Values full of shell syntax must arrive byte for byte and execute nothing.
     */
    void testHostileValuesArriveUnchangedAndExecuteNothing() {
        File stubDir = new File(h.workspace, 'stub-bin')
        stubDir.mkdirs()
        File stub = new File(stubDir, 'pipeline-py')
        stub.text = '''#!/bin/sh
if [ "$1" = "--version" ]; then echo "pipeline-py ''' + h.vars.pipelinePy.libraryVersion() + '''"; exit 0; fi
exec python3 -c 'import json, sys
args = sys.argv[1:]
params = json.load(open(args[args.index("--params-file") + 1], encoding="utf-8"))
print(json.dumps({"status": "ok", "argv": args, "params": params}))' "$@"
'''
        stub.setExecutable(true)
        h.buildEnv.PATH = stubDir.absolutePath + ':' + h.buildEnv.PATH
        h.buildEnv.PIPELINE_PY_SOURCE = 'path'
        h.useRealShell()

        String marker = new File(h.workspace, 'pwned').absolutePath
        List hostile = [
            "it's \"quoted\"",
            '$HOME ${HOME} $(touch ' + marker + '1) `touch ' + marker + '2`',
            'a; touch ' + marker + '3 && echo x | tee ' + marker + '4',
            'line one\nline two\r\n\ttabbed',
            '--json --dry-run',
            '\\\\ back\\slash \u00e9\u00e8 \u2603 \u0000nul',
        ]
        Map params = [image: hostile[1], var: [A: hostile[0], B: hostile[2], C: hostile[3]], tag: hostile, target: hostile[5]]
        Map result = h.vars.pipelinePy.call(command: 'deploy promote', env: hostile[4], params: params,
            set: [smoke: [url: hostile[2]]])

        (1..4).each { assert !new File(marker + it).exists(): "an injected command ran (${marker}${it})" }
        assert result.status == 'ok'
        assert result.argv == ['deploy', 'promote', '--params-file', '.pipeline-py/jenkins/1-deploy-promote.params.json', '--json']
        assert result.params == [env: hostile[4], set: ['smoke.url=' + groovy.json.JsonOutput.toJson(hostile[2])]] + params
        assert h.log.any { it.contains('pipeline-py install: using') }
    }

    /**
     * Issue A.5: Jenkins caches a vars instance per calling script, so terraformPlan and
     * terraformApply each have their own pipelinePy: a per-instance counter gave both runs of
     * 'terraform init' the same files. The number is build-wide now.
     */
    void testEveryRunOfABuildGetsItsOwnFilesWhicheverStepMakesIt() {
        h.fakePipelinePy { cmd, p, e -> [status: 'ok', summary: [add: 1]] }
        h.vars.terraformPlan.call(env: 'staging')
        h.vars.terraformApply.call(env: 'staging')
        h.vars.pipelinePy.call(command: 'status')
        assert h.varInstances.findAll { it.name == 'pipelinePy' }*.caller == ['terraformPlan', 'terraformApply', 'Jenkinsfile']
        assert h.pipelinePyRuns*.env*.PP_PARAMS == [
            '.pipeline-py/jenkins/1-terraform-init.params.json', '.pipeline-py/jenkins/2-terraform-plan.params.json',
            '.pipeline-py/jenkins/3-terraform-init.params.json', '.pipeline-py/jenkins/4-terraform-apply.params.json',
            '.pipeline-py/jenkins/5-status.params.json']
    }

    /** A run whose process never started (durable-task's -2) must not be read as an earlier run's result. */
    void testARunThatNeverStartedIsNotMistakenForAnEarlierOne() {
        int n = 0
        h.fakePipelinePy { cmd, p, e -> n++ == 0 ? [status: 'succeeded', message: 'an earlier run'] : [neverStarted: true] }
        h.vars.ecsRollback.call(env: 'prod', description: false, report: false)  // ecsRollback's own pipelinePy
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'rollback', env: 'prod') }  // the Jenkinsfile's
        assert r.error == 'pipeline-py rollback exited with -2: pipeline-py exited with -2 without a JSON result (see the log above)'
    }

    void testTheRunScriptRemovesAStaleResultBeforePipelinePyStarts() {
        String script = h.vars.pipelinePy.RUN_SCRIPT
        assert script.readLines()[0] == 'rm -f "$PP_RESULT" "$PP_EXIT"'
        h.fakePipelinePy { cmd, p, e -> [code: 0, result: null] }
        File stale = new File(h.workspace, 'pipeline-py-reports/status.json')
        stale.parentFile.mkdirs()
        stale.text = '{"status": "ok", "from": "an earlier build"}'
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'status', report: 'status.json') }
        assert r.error.startsWith('MANUAL ACTION REQUIRED: pipeline-py status failed')
        assert !stale.exists()
    }

    // ---- issue 13: the HTML report (report_html) ------------------------------------------------

    /** A fake pipeline-py that writes an HTML report next to the config (under the current directory) and reports its path. */
    Closure writesReport(Map extra = [:], String dirName = '.pipeline-py/reports') {
        return { String cmd, Map p, Map e, File cwd ->
            File html = new File(cwd, "${dirName}/task-api-canary-20260501T120000Z.html")
            html.parentFile.mkdirs()
            html.text = '<html><style>td{}</style></html>'
            [status: 'succeeded', strategy: 'canary', report_html: html.canonicalPath] + extra
        }
    }

    void testTheHtmlReportIsArchivedAndPublishedWhereTheHtmlPublisherIsInstalled() {
        h.fakePipelinePy(writesReport())
        Map r = h.dispatch('dir', ['examples/task-api', { h.vars.pipelinePy.call(command: 'deploy', env: 'prod') }] as Object[])
        String artifact = '.pipeline-py/reports/task-api-canary-20260501T120000Z.html'
        assert h.archived == [artifact]
        assert h.callsTo('archiveArtifacts')[0].cwd == 'examples/task-api'
        assert h.named(h.callsTo('publishHTML')[0]) == [target: [
            reportName: 'pipeline-py deploy (prod)', reportDir: '.pipeline-py/reports',
            reportFiles: 'task-api-canary-20260501T120000Z.html', includes: 'task-api-canary-20260501T120000Z.html',
            keepAll: true, alwaysLinkToLastBuild: false, allowMissing: true]]
        assert h.published == [[name: 'pipeline-py deploy (prod)',
                                file: new File(h.workspace, 'examples/task-api/' + artifact).canonicalPath]]
        assert r.report_published == true && r.report_artifact == artifact
        assert r.report_url == h.currentBuild.absoluteUrl + 'artifact/' + artifact
        assert !h.callsTo('sh').any { h.named(it).script == 'pwd -P' }  // pwd() matched: no extra shell step
    }

    void testPublishHtmlFalseOnlyArchivesAndAnUnknownValueIsRefused() {
        h.fakePipelinePy(writesReport())
        Map r = h.vars.pipelinePy.call(command: 'deploy promote', env: 'prod', publishHtml: false)
        assert h.archived == ['.pipeline-py/reports/task-api-canary-20260501T120000Z.html']
        assert !h.callsTo('publishHTML') && r.report_published == false
        assert h.log.contains('pipeline-py HTML report .pipeline-py/reports/task-api-canary-20260501T120000Z.html: ' +
            'archived (' + r.report_url + ')')
        Map e = h.attempt { h.vars.pipelinePy.call(command: 'deploy', publishHtml: 'yes') }
        assert e.error == "pipelinePy: publishHtml must be true, false or 'auto', not 'yes'"
    }

    /** Asking for the publisher (true) where it is missing: the deploy stands, the build says UNSTABLE why. */
    void testPublishHtmlTrueWithoutThePluginMakesTheBuildUnstableNotFailed() {
        h.missingPlugins << 'publishHTML'
        h.fakePipelinePy(writesReport())
        Map r = h.vars.pipelinePy.call(command: 'deploy', env: 'prod', publishHtml: true)
        assert r.status == 'succeeded' && r.report_published == false
        assert h.currentBuild.result == 'UNSTABLE'
        assert h.log.contains('WARNING: pipelinePy: publishHtml is true but the HTML Publisher plugin (htmlpublisher) is not ' +
            'installed, so the report is linked from the build description instead')
        assert h.archived == ['.pipeline-py/reports/task-api-canary-20260501T120000Z.html']
    }

    /** pipeline-py resolves symlinks in the path it reports; a workspace reached through one still archives exactly. */
    void testAWorkspaceBehindASymlinkIsMatchedByItsPhysicalPath() {
        File link = new File(h.workspace.parentFile, h.workspace.name + '-link')
        java.nio.file.Files.createSymbolicLink(link.toPath(), h.workspace.toPath())
        try {
            h.pwdOverride = link.absolutePath
            h.fakePipelinePy(writesReport())
            Map r = h.vars.pipelinePy.call(command: 'deploy', env: 'prod')
            assert h.callsTo('sh').count { h.named(it).script == 'pwd -P' } == 1
            assert r.report_artifact == '.pipeline-py/reports/task-api-canary-20260501T120000Z.html'
            assert h.archived == [r.report_artifact]
        } finally {
            link.delete()
        }
    }

    void testAReportOutsideTheDirectoryIsNamedNotArchived() {
        File outside = File.createTempDir('reports-elsewhere', '')
        try {
            h.fakePipelinePy { String cmd, Map p, Map e -> [status: 'succeeded', report_html: new File(outside, 'r.html').absolutePath] }
            Map r = h.vars.pipelinePy.call(command: 'deploy', env: 'prod', params: ['report-dir': outside.absolutePath])
            assert !h.callsTo('archiveArtifacts') && !h.callsTo('publishHTML') && r.report_url == null
            assert h.log.contains("pipeline-py wrote its HTML report outside the directory this step ran in " +
                "(${new File(outside, 'r.html').absolutePath}); it is not archived: give reportDir a directory inside the workspace".toString())
        } finally {
            outside.deleteDir()
        }
    }

    /** After an abort the rollback's report is archived too, and the description links it. */
    void testTheReportOfARollbackAfterAnAbortIsKeptAndLinked() {
        h.missingPlugins << 'publishHTML'
        Closure report = writesReport([status: 'rolled_back', message: 'aborted by SIGTERM'])
        h.fakePipelinePy { String cmd, Map p, Map e, File cwd -> [abort: 'Aborted by alice', code: 1, result: report.call(cmd, p, e, cwd)] }
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'deploy', env: 'prod') }
        assert r.interrupted == 'Aborted by alice'
        assert h.archived == ['.pipeline-py/reports/task-api-canary-20260501T120000Z.html']
        assert h.currentBuild.description == 'prod: deploy \u00b7 aborted, rolled back safely \u00b7 report: ' +
            h.currentBuild.absoluteUrl + 'artifact/.pipeline-py/reports/task-api-canary-20260501T120000Z.html'
    }

    void testVerdictCommandsSayWhatTheVerdictWas() {
        h.fakePipelinePy { cmd, p, e ->
            [code: 1, result: [status: 'error', message: 'image scan gate: 1 finding at or above HIGH in repo@sha256:1: CVE-2026-1 (HIGH: openssl)']]
        }
        Map r = h.attempt { h.vars.pipelinePy.call(command: 'scan', env: 'prod') }
        assert r.error == 'pipeline-py scan failed: image scan gate: 1 finding at or above HIGH in repo@sha256:1: CVE-2026-1 (HIGH: openssl)'
        assert h.currentBuild.result == 'FAILURE'
    }
}
