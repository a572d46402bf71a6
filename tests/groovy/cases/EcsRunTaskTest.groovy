/** vars/ecsRunTask.groovy: Runs a one-off task (pipeline-py run-task). */
class EcsRunTaskTest extends EnvStepTestSupport {
    EcsRunTaskTest() {
        super('ecsRunTask', [env: 'staging', command: 'migrate'], 'run-task')
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
        Map r = attempt([env: 'staging'])
        assert r.error == "ecsRunTask: missing required parameter 'command'"
        r = attempt([env: 'staging', command: [migrate: true]])
        assert r.error == 'ecsRunTask: command must be a string or a list, got LinkedHashMap'
    }

    void testEcsRunTaskFailureFailsTheBuild() {
        responses['run-task'] = [code: 1, result: [status: 'error', message: 'container app exited with 1']]
        Map r = attempt([env: 'staging', command: 'migrate'])
        assert r.error == 'pipeline-py run-task failed (nothing was left half-done): container app exited with 1'
    }
}
