/** vars/renderTaskDefinition.groovy: Renders the task definition (pipeline-py render). */
class RenderTaskDefinitionTest extends EnvStepTestSupport {
    RenderTaskDefinitionTest() {
        super('renderTaskDefinition', [env: 'staging'], 'render')
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
