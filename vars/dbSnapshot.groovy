// A manual RDS snapshot before a risky change (pipeline-py db snapshot): named
// <service>-<env>-<build>-<UTC time>, tagged with the service, environment and build, and waited
// for until it is available. Returns the snapshot's id.
String call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        instance: null,      // the RDS instance (default: the config's database.instance, else <service>-<env>)
        build: null,         // the build in the snapshot's name and tags (default: the build's BUILD_TAG)
        snapshotId: null,    // the snapshot's name (default: <service>-<env>-<build>-<UTC time>)
        tags: [:],           // extra tags, e.g. [change: 'CHG-1234']
        timeoutMinutes: 30,  // how long to wait until the snapshot is available
        pollInterval: null,  // seconds between status polls (default: the config's database.poll_interval)
        report: null,        // a file name, true (default: db-snapshot-<env>.json) or false
    ]
    Map opts = pipelinePy.configure('dbSnapshot', args, defaults, ['env'])
    if (opts.timeoutMinutes <= 0) {
        error("dbSnapshot: timeoutMinutes must be positive, got ${opts.timeoutMinutes}")
    }
    Map result = pipelinePy.run('db snapshot', opts, [
        instance       : opts.instance,
        build          : opts.build ?: env.BUILD_TAG,
        'snapshot-id'  : opts.snapshotId,
        tag            : opts.tags ?: null,
        timeout        : opts.timeoutMinutes * 60,
        'poll-interval': opts.pollInterval,
    ], [report: pipelinePy.reportName(opts.report, "db-snapshot-${opts.env}.json", true)])
    String status = result.snapshot_status ?: result.status
    echo("dbSnapshot (${opts.env}): ${result.snapshot} of ${result.instance}: ${status}")
    return result.snapshot
}
