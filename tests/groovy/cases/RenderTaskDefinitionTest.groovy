/** vars/renderTaskDefinition.groovy: Renders the task definition (pipeline-py render). */
class RenderTaskDefinitionTest extends StepTestSupport {
    static final String DIGEST = 'acct.dkr.ecr.eu-west-1.amazonaws.com/task-api@sha256:' + ('0f' * 32)

    String step() {
        return 'renderTaskDefinition'
    }

    Map minimal() {
        return [env: 'staging']
    }

    String command() {
        return 'render'
    }

    void testPassesTheCommonParametersAndCredentialThrough() {
        checkCommonParametersAndCredentialPassThrough()
    }

    void testRejectsUnknownParametersBeforeTouchingTheAgent() {
        checkUnknownParametersAreRejectedBeforeTheAgentIsTouched()
    }

    void testNamesAMissingEnvironment() {
        checkAMissingEnvironmentIsNamed()
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
}
