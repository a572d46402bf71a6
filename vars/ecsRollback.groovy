// Rolls the environment's ECS service back to the previous (or a given) task definition revision.
Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        to: null,           // task definition ARN to return to (default: the previous revision)
        timeout: null,      // seconds or '10m'
        pollInterval: null, // seconds between checks
        waitForLock: null,  // '10m': wait for another deploy's pipeline-py lock (default: the config's lock.wait)
        report: null,       // a file name, true (default: rollback-<env>.json) or false
        description: true,  // set the build description to the outcome
    ]
    Map opts = pipelinePy.configure('ecsRollback', args, defaults, ['env'])
    Map params = [to: opts.to, timeout: opts.timeout, 'poll-interval': opts.pollInterval,
                  'wait-for-lock': opts.waitForLock]
    Map result = pipelinePy.run('rollback', opts, params,
        [report: pipelinePy.reportName(opts.report, "rollback-${opts.env}.json", true), failOnError: false,
         description: opts.description ? "${opts.env}: rollback".toString() : false])
    if (opts.description) {
        String target = ecsDeploy.shortImage((result.task_definition_arn ?: opts.to ?: 'previous revision').toString())
        currentBuild.description = "${opts.env}: rollback to ${target} \u00b7 ${result.status ?: 'unknown'}".toString()
    }
    if (result.exit_code) {
        pipelinePy.fail('rollback', result)
    }
    echo("ecsRollback (${opts.env}): ${result.status} (${result.task_definition_arn})")
    return result
}
