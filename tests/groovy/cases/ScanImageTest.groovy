/** vars/scanImage.groovy: the image scan gate (pipeline-py scan). Issue 14. */
class ScanImageTest extends StepTestSupport {
    ScanImageTest() {
        super('scanImage', [env: 'prod', image: StepTestSupport.DIGEST], 'scan')
    }

    void testAPassedScanIsReturnedAndSummarised() {
        responses.scan = [image: DIGEST, passed: true, fail_on: 'HIGH', blocking: [], below_threshold: 4,
                          allowed: [[id: 'CVE-2026-2', expires: '2026-07-01'], [id: 'CVE-2026-1', expires: '2026-06-01']]]
        Map r = h.vars.scanImage.call(env: 'prod', image: DIGEST, failOn: 'CRITICAL', timeout: '10m')
        assert r.passed
        assert runOf('scan').params == [env: 'prod', image: DIGEST, 'fail-on': 'CRITICAL', timeout: '10m']
        assert h.archived == ['pipeline-py-reports/scan-prod.json']
        assert h.log.contains(("scanImage: ${DIGEST}: passed: nothing at or above HIGH that is not allowlisted " +
            '(2 allowlisted, the first entry expires 2026-06-01; 4 below HIGH)').toString())
    }

    /** Without env or image: the config's defaults and the last push of this directory. */
    void testEverythingIsOptional() {
        h.vars.scanImage.call()
        assert runOf('scan').params == [:]
        assert h.archived == ['pipeline-py-reports/scan.json']
        assert h.log.contains('scanImage: the last push: passed: nothing at or above the threshold that is not allowlisted')
    }

    void testFindingsFailTheBuildNamingTheCvesAndTheExpiredEntries() {
        String message = 'image scan gate: 2 findings at or above HIGH in task-api@sha256:0f0f: CVE-2026-1 (CRITICAL: ' +
            'openssl); CVE-2026-3 (HIGH: zlib). the allowlist entry for CVE-2026-3 expired on 2026-04-30 (upstream fix ' +
            'pending); it no longer allows the finding'
        responses.scan = [code: 1, result: [status: 'error', error: 'failed', passed: false, message: message]]
        Map r = attempt(minimal())
        assert r.error == "pipeline-py scan failed: ${message}".toString()
        assert h.currentBuild.result == 'FAILURE'
        assert h.archived == ['pipeline-py-reports/scan-prod.json']  // the findings stay with the build
    }

    void testADryRunSaysItWaitedForNothing() {
        responses.scan = [dry_run: true, scan_status: 'IN_PROGRESS']
        h.vars.scanImage.call(env: 'prod', dryRun: true, report: false)
        assert h.log.contains('scanImage: the last push: dry run, nothing waited for (scan IN_PROGRESS)')
        assert h.archived == []
    }
}
