// Renders the ECS task definition from the service's jinja2 template; optionally diffs it against
// the registered revision and registers it.
Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        image: null,       // image reference, normally pushImage's result.image (repo@sha256:...)
        vars: [:],         // template variables: [NAME: value]
        diff: true,        // show the difference to the registered revision (needs AWS access)
        register: false,   // register the rendered revision
        output: null,      // also write the rendered JSON to this file
        report: null,      // archive the result: a file name, true (taskdef-<env>.json) or false (default)
    ]
    Map opts = pipelinePy.configure('renderTaskDefinition', args, defaults, ['env'])
    Map result = pipelinePy.run('render', opts, [
        image   : opts.image,
        var     : opts.vars ?: null,
        diff    : opts.diff ? true : null,
        register: opts.register ? true : null,
        output  : opts.output,
    ], [report: pipelinePy.reportName(opts.report, "taskdef-${opts.env}.json", false)])
    if (opts.diff) {
        echo("renderTaskDefinition: ${result.changed ? 'changes against the registered revision' : 'no changes'}" +
            (result.task_definition_arn ? "; registered ${result.task_definition_arn}" : ''))
    }
    return result
}
