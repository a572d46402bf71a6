import io.pipelinepy.HtmlReports

/** src/io/pipelinepy/HtmlReports.groovy, called directly: where the HTML report lies for archiveArtifacts/publishHTML. */
class HtmlReportsTest {
    void testTheReportIsLocatedRelativeToTheDirectoryTheStepRanIn() {
        String base = '/ws/job/examples/task-api'
        assert HtmlReports.location(base + '/.pipeline-py/reports/r.html', base) ==
            [artifact: '.pipeline-py/reports/r.html', dir: '.pipeline-py/reports', file: 'r.html']
        assert HtmlReports.location(base + '/r.html', base + '/') == [artifact: 'r.html', dir: '.', file: 'r.html']
        // a sibling whose name starts the same is not inside
        assert HtmlReports.location('/ws/job/examples/task-api-2/r.html', base) == null
        assert HtmlReports.location('/elsewhere/r.html', base) == null
        assert HtmlReports.location(base + '/', base) == null
        assert HtmlReports.location(null, base) == null && HtmlReports.location('/x.html', null) == null
    }

    void testLinksNamesAndChoices() {
        assert HtmlReports.artifactUrl('https://ci/job/a/7/', 'r/x.html') == 'https://ci/job/a/7/artifact/r/x.html'
        assert HtmlReports.artifactUrl('https://ci/job/a/7', 'x.html') == 'https://ci/job/a/7/artifact/x.html'
        assert HtmlReports.artifactUrl(null, 'x.html') == null
        assert HtmlReports.reportName('deploy promote', 'prod') == 'pipeline-py deploy promote (prod)'
        assert HtmlReports.reportName('deploy', null) == 'pipeline-py deploy'
        assert HtmlReports.descriptionLink([report_url: 'u', report_published: false]) == ' \u00b7 report: u'
        assert HtmlReports.descriptionLink([report_url: 'u', report_published: true]) == ''
        assert HtmlReports.descriptionLink(null) == ''
        [null, true, false, 'auto'].each { assert HtmlReports.publishProblem('s', it) == null }
        assert HtmlReports.publishProblem('s', 'yes') == "s: publishHtml must be true, false or 'auto', not 'yes'"
    }
}
