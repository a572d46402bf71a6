// The image scan gate (pipeline-py scan): waits for ECR's scan of a pushed image and fails the
// build on findings at or above image.scan.fail_on that the config's allowlist does not allow,
// or no longer allows (its entries expire). The failure names the CVEs and the expired entries.
Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        image: null,    // REPOSITORY@sha256:... to judge: pushImage's result.image (default: the last push here)
        failOn: null,   // override image.scan.fail_on: CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL
        timeout: null,  // override image.scan.timeout: how long to wait for the scan (seconds or '10m')
        report: null,   // a file name, true (default: scan-<env>.json) or false
    ]
    Map opts = pipelinePy.configure('scanImage', args, defaults)
    Map result = pipelinePy.run('scan', opts, [image: opts.image, 'fail-on': opts.failOn, timeout: opts.timeout],
        [report: pipelinePy.reportName(opts.report, opts.env ? "scan-${opts.env}.json" : 'scan.json', true)])
    echo("scanImage: ${result.image ?: opts.image ?: 'the last push'}: ${summary(result)}")
    return result
}

/**
 * One line about a passed scan, for the log and the approval message:
 * "passed: nothing at or above HIGH (2 allowlisted, the first entry expires 2026-03-01; 5 below HIGH)".
 */
@NonCPS
static String summary(Map result) {
    if (result.dry_run) {
        return "dry run, nothing waited for (scan ${result.scan_status ?: 'not found'})".toString()
    }
    String failOn = result.fail_on ?: 'the threshold'
    List parts = []
    List allowed = result.allowed instanceof List ? (List) result.allowed : []
    if (allowed) {
        List expiries = allowed.collect { Object a -> a instanceof Map ? a.expires : null }
            .findAll { Object e -> e != null }.collect { Object e -> e.toString() }.sort()
        parts << "${allowed.size()} allowlisted${expiries ? ', the first entry expires ' + expiries[0] : ''}".toString()
    }
    if (result.below_threshold) {
        parts << "${result.below_threshold} below ${failOn}".toString()
    }
    String verdict = result.passed == false ? 'FAILED' : 'passed'
    String details = parts ? " (${parts.join('; ')})" : ''
    return "${verdict}: nothing at or above ${failOn} that is not allowlisted${details}".toString()
}
