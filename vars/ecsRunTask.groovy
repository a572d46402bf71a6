// Runs a one-off ECS task (a migration, a smoke job) with the service's task definition and waits
// for it; a non-zero container exit fails the build.
Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        command: null,         // the container command: a string (split like a shell would) or a list
        container: null,       // container name (default: the task definition's essential one)
        image: null,           // run this image instead of the registered one
        vars: [:],             // with image: template variables; otherwise environment overrides of the container
        taskDefinition: null,  // task definition ARN (default: the service's current one)
        timeout: null,         // seconds or '30m'
        report: null,          // a file name, true (run-task-<env>.json) or false (default)
    ]
    Map opts = pipelinePy.configure('ecsRunTask', args, defaults, ['env', 'command'])
    if (!(opts.command instanceof CharSequence || opts.command instanceof List)) {
        error("ecsRunTask: command must be a string or a list, got ${opts.command.getClass().getSimpleName()}")
    }
    Map result = pipelinePy.run('run-task', opts, [
        command          : opts.command,
        container        : opts.container,
        image            : opts.image,
        'task-definition': opts.taskDefinition,
        var              : opts.vars ?: null,
        timeout          : opts.timeout,
    ], [report: pipelinePy.reportName(opts.report, "run-task-${opts.env}.json", false)])
    echo("ecsRunTask (${opts.env}): ${result.task_arn} exited ${result.container_exit_code}")
    return result
}
