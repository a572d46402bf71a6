// Applies a plan saved by terraformPlan (never a fresh plan): what was reviewed is what changes.
Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        planFile: null,    // default tfplan-<env>.bin, as terraformPlan writes it
        init: true,        // run terraform init first (a fresh agent has no .terraform directory)
        report: null,      // archive the result: a file name, true (default: terraform-apply-<env>.json) or false
    ]
    Map opts = pipelinePy.configure('terraformApply', args, defaults, ['env'])
    if (opts.init) {
        pipelinePy.run('terraform init', opts, [:])
    }
    Map result = pipelinePy.run('terraform apply', opts, [
        'plan-file': opts.planFile ?: terraformPlan.defaultPlanFile(opts.env),
    ], [report: pipelinePy.reportName(opts.report, "terraform-apply-${opts.env}.json", true)])
    echo("terraformApply (${opts.env}): ${terraformPlan.summaryLine(result.summary)}")
    return result
}
