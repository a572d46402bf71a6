import org.codehaus.groovy.control.CompilationFailedException

/** The root Jenkinsfile and every vars/ file compile with Jenkins' Groovy; the Jenkinsfile runs. */
class JenkinsfileTest {
    static File jenkinsfile() {
        return PipelineHarness.repoFile('Jenkinsfile')
    }

    void testTheJenkinsfileAndEveryStepCompile() {
        List<File> files = [jenkinsfile()] + PipelineHarness.repoFile('vars').listFiles().findAll { it.name.endsWith('.groovy') }
        assert files.size() >= 11
        files.each { File f -> assert PipelineHarness.compile(f): f.name }
    }

    void testASyntaxErrorIsCaught() {
        File broken = File.createTempFile('Broken', '.groovy')
        broken.text = "ecsPipeline(service: 'x',\n  checks: [a: { sh 'make' ]\n)\n"
        try {
            PipelineHarness.compile(broken)
            assert false: 'a syntax error compiled'
        } catch (CompilationFailedException e) {
            assert e.message.contains('unexpected token') || e.message.contains('expecting')
        } finally {
            broken.delete()
        }
    }

    void testEveryStepHasAHelpPage() {
        PipelineHarness.repoFile('vars').listFiles().findAll { it.name.endsWith('.groovy') }.each { File f ->
            File help = new File(f.parentFile, f.name.replace('.groovy', '.txt'))
            assert help.isFile(): "${f.name} has no ${help.name}"
            assert help.text.contains('<p>'): "${help.name} is empty"
        }
    }

    Map runOn(Map env) {
        PipelineHarness h = new PipelineHarness([GIT_COMMIT: 'feedfacefeedfacefeedfacefeedfacefeedface'] + env)
        ['aws-task-api-staging', 'aws-task-api-prod', 'aws-task-api-readonly'].each { h.awsCredential(it) }
        h.inputHandler = { Map a -> 'carol' }
        List shells = []
        h.fakePipelinePy { String cmd, Map p, Map e, File cwd ->
            if (cmd == 'terraform plan') {
                new File(cwd, p['plan-file']).text = 'plan'
            }
            cmd == 'push' ? [image: 'repo/task-api@sha256:' + ('1' * 64)] :
                cmd == 'terraform plan' ? [summary: [add: 1]] : [status: 'succeeded', strategy: p.strategy]
        }
        Closure pp = h.shHandler
        h.shHandler = { Map sh, Map e, File cwd ->
            if (sh.script.startsWith('make ')) {
                shells << sh.script
                return 0
            }
            pp.call(sh, e, cwd)
        }
        h.runJenkinsfile(jenkinsfile())
        return [h: h, shells: shells]
    }

    void testTheJenkinsfileRunsThisRepositorysChecksThenDeploysTheExample() {
        Map r = runOn([BRANCH_NAME: 'main'])
        PipelineHarness h = r.h
        assert r.shells == ['make lint', 'make test']
        assert h.declarative.ran() == ['Checks', 'Checks/Lint', 'Checks/Tests', 'Build image', 'Render task definition',
                                       'Terraform plan', 'Image scan', 'Approve production', 'Deploy production', 'Verify']
        assert h.pipelinePyRuns.every { it.cwd.path.endsWith('/examples/task-api') }
        assert h.callsTo('sh').findAll { it.env.PP_INSTALL }.every { it.env.PIPELINE_PY_SOURCE == '.' }
        Map deploy = h.pipelinePyRuns.find { it.command == 'deploy' }
        assert deploy.params.strategy == 'canary'
        assert deploy.params.set == ['canary.steps=[10, 25, 50, 100]', 'canary.bake_seconds="5m"',
                                     'canary.analysis.max_error_rate=0.001', 'canary.analysis.max_p99_ms=500']
        assert h.named(h.callsTo('input')[0]).submitter == 'task-api-release-managers'
        assert h.pipelinePyRuns.find { it.command == 'diagnose' }.params ==
            [env: 'prod', since: '10m', only: ['error_rate', 'error_logs', 'service', 'targets', 'database']]
        assert h.currentBuild.currentResult == 'SUCCESS'
    }

    void testPullRequestsOfThisRepositoryDoNotDeploy() {
        Map r = runOn([BRANCH_NAME: 'PR-7', CHANGE_ID: '7'])
        PipelineHarness h = r.h
        assert r.shells == ['make lint', 'make test']
        assert !h.commandsRun().contains('deploy') && !h.commandsRun().contains('push')
        assert h.pipelinePyRuns.find { it.command == 'terraform plan' }.env.AWS_ACCESS_KEY_ID == 'AKIAEXAMPLEKEY'
    }
}
