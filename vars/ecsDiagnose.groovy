// The troubleshooting runbook as a step (pipeline-py diagnose): every check's verdict, evidence and
// next step for an environment (load balancer, targets, service, stopped tasks, alarms, error rate,
// error logs, resources, database, terraform state lock). Archives the result as
// diagnose-<env>.json and returns it; problems make the build UNSTABLE, or fail it with
// failOnProblems. Read-only: it never changes the environment.
Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        since: null,            // how far back to read error lines: '15m' (default: the config's diagnose.log_window)
        only: [],               // only these checks, e.g. ['error_rate', 'database'] (default: all)
        filter: null,           // the filter pattern of an error line (default: the config's diagnose.error_pattern)
        connect: true,          // false: do not open a database connection
        failOnProblems: false,  // true: problems fail the build; false: they make it UNSTABLE
        report: null,           // a file name, true (default: diagnose-<env>.json) or false
    ]
    Map opts = pipelinePy.configure('ecsDiagnose', args, defaults, ['env'])
    Map result = pipelinePy.run('diagnose', opts, [
        since       : opts.since,
        only        : opts.only ?: null,
        filter      : opts.filter,
        'no-connect': opts.connect ? null : true,
    ], [report: pipelinePy.reportName(opts.report, "diagnose-${opts.env}.json", true), failOnError: false])
    echo("ecsDiagnose (${opts.env}): ${summaryLine(result)}")
    if (result.exit_code == 1 && !opts.failOnProblems) {
        unstable("ecsDiagnose (${opts.env}): ${result.message ?: summaryLine(result)}")
    } else if (result.exit_code) {
        pipelinePy.fail('diagnose', result)
    }
    return result
}

/** "2 problem(s): error_rate, database; 1 check(s) could not tell: resources" or "no problems (5 checks)". */
@NonCPS
static String summaryLine(Map result) {
    List problems = result.problems instanceof List ? (List) result.problems : []
    List unknown = result.unknown instanceof List ? (List) result.unknown : []
    int checks = result.checks instanceof List ? ((List) result.checks).size() : 0
    String line = problems ? "${problems.size()} problem(s): ${problems.join(', ')}" : "no problems (${checks} checks)"
    if (unknown) {
        line += "; ${unknown.size()} check(s) could not tell: ${unknown.join(', ')}"
    }
    return line.toString()
}
