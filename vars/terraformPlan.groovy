// Runs terraform init and plan for an environment through pipeline-py, saves the plan file for
// terraformApply and archives the plan summary.
import groovy.transform.Field

Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        vars: [:],            // terraform variables: [name: value]
        planFile: null,       // default tfplan-<env>.bin (relative to the current directory)
        allowDestroy: false,  // let the plan destroy or replace resources
        init: true,           // run terraform init first
        upgrade: false,       // terraform init -upgrade
        report: null,         // archive the result: a file name, true (default: terraform-plan-<env>.json) or false
    ]
    Map opts = pipelinePy.configure('terraformPlan', args, defaults, ['env'])
    if (opts.init) {
        pipelinePy.run('terraform init', opts, [upgrade: opts.upgrade ? true : null])
    }
    Map result = pipelinePy.run('terraform plan', opts, [
        'plan-file'    : opts.planFile ?: defaultPlanFile(opts.env),
        var            : opts.vars ?: null,
        'allow-destroy': opts.allowDestroy ? true : null,
    ], [report: pipelinePy.reportName(opts.report, "terraform-plan-${opts.env}.json", true)])
    echo("terraformPlan (${opts.env}): ${summaryLine(result.summary)}")
    return result
}

/** The kinds of change a plan summary counts. */
@Field static final List KINDS = ['add', 'change', 'destroy', 'replace']

@NonCPS
static String defaultPlanFile(String env) {
    return "tfplan-${env}.bin".toString()
}

/** "1 to add, 2 to change, 0 to destroy, 0 to replace" from a plan summary (counts or address lists). */
@NonCPS
static String summaryLine(Map summary) {
    return KINDS.collect { String kind -> "${count(summary, kind)} to ${kind}" }.join(', ')
}

@NonCPS
static int count(Map summary, String kind) {
    Object v = (summary ?: [:])[kind]
    return v instanceof Collection ? v.size() : v instanceof Number ? v.intValue() : 0
}

/** Whether a plan result changes anything (an apply is needed). */
@NonCPS
static boolean hasChanges(Map result) {
    return KINDS.any { String kind -> count((Map) result?.summary, kind) > 0 }
}
