/** vars/ecsRollback.groovy: Rolls back (pipeline-py rollback). */
class EcsRollbackTest extends EnvStepTestSupport {
    EcsRollbackTest() {
        super('ecsRollback', [env: 'staging'], 'rollback')
    }

    void testEcsRollbackGoesBackAndSaysWhere() {
        responses.rollback = [status: 'succeeded', task_definition_arn: 'arn:aws:ecs:eu-west-1:1:task-definition/task-api:6']
        h.vars.ecsRollback.call(env: 'prod', to: 'arn:aws:ecs:eu-west-1:1:task-definition/task-api:6', timeout: 300)
        assert runOf('rollback').params == [env: 'prod', to: 'arn:aws:ecs:eu-west-1:1:task-definition/task-api:6', timeout: 300]
        assert h.currentBuild.description == 'prod: rollback to task-api:6 \u00b7 succeeded'
        assert h.archived == ['pipeline-py-reports/rollback-prod.json']

        responses.rollback = [code: 3, result: [status: 'failed', message: 'service did not stabilise']]
        Map r = attempt([env: 'prod'])
        assert r.error.startsWith('MANUAL ACTION REQUIRED: pipeline-py rollback failed')
    }
}
