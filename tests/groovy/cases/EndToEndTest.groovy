/**
 * pipelinePy with nothing faked below Groovy: the real install.sh (source "path"), the constant
 * shell line under `sh -xe`, and the real pipeline-py CLI reading the params file and answering
 * with --json. tests/test_groovy.py provides PIPELINE_PY_E2E_BIN_DIR (a `pipeline-py` that runs
 * this checkout); run alone, these tests fail and say so.
 */
class EndToEndTest {
    PipelineHarness h = new PipelineHarness()

    EndToEndTest() {
        String bin = System.getenv('PIPELINE_PY_E2E_BIN_DIR')
        assert bin: 'PIPELINE_PY_E2E_BIN_DIR is not set: run these through tests/test_groovy.py'
        h.buildEnv.PATH = bin + ':' + h.buildEnv.PATH
        h.buildEnv.PIPELINE_PY_SOURCE = 'path'
        h.useRealShell()
    }

    File example() {
        return PipelineHarness.repoFile('examples/task-api/pipeline.yaml')
    }

    void testTheRealCliAnswersThroughTheParamsFile() {
        Map r = h.vars.pipelinePy.call(command: 'config', env: 'local', config: example().absolutePath,
            set: [canary: [bake_seconds: '45s'], timeout: 99])
        assert r.status == 'ok' && r.command == 'config'
        assert r.env == 'local'
        assert r.config.service == 'task-api'
        assert r.config.timeout == 99
        assert r.config.canary.bake_seconds == 45
        // the trace of the constant line (stderr lines of the two shells may interleave: search the whole log)
        assert h.log.join('\n').contains(' config --params-file .pipeline-py/jenkins/1-config.params.json --json')
    }

    void testAConfigurationErrorIsExitTwoWithPipelinePysMessage() {
        Map r = h.attempt {
            h.vars.pipelinePy.call(command: 'config', env: 'nowhere', config: example().absolutePath)
        }
        assert r.error.startsWith('pipeline-py configuration error: ')
        assert r.error.contains("unknown environment 'nowhere'")
        assert !r.error.contains('Traceback')
    }

    void testAnUnknownOptionInTheParamsIsNamed() {
        Map r = h.attempt {
            h.vars.pipelinePy.call(command: 'config', config: example().absolutePath, params: [strategy: 'canary'])
        }
        assert r.error.startsWith("pipeline-py configuration error: params file .pipeline-py/jenkins/1-config.params.json: unknown key 'strategy'")
    }
}
