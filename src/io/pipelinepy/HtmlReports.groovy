package io.pipelinepy

import com.cloudbees.groovy.cps.NonCPS

/**
 * Where the HTML report a deploy wrote (its result's `report_html`, an absolute path on the agent)
 * lies relative to the directory the step ran in: archiveArtifacts and publishHTML take paths
 * relative to the current directory (the workspace, or the `dir` the step runs in), never
 * absolute ones. Static, @NonCPS, generic-whitelist calls only.
 */
class HtmlReports implements Serializable {

    private static final long serialVersionUID = 1L

    /** The values of a step's `publishHtml` parameter; null means 'auto'. */
    static final List PUBLISH_CHOICES = [true, false, 'auto']

    /**
     * [artifact: path relative to base, dir: its directory ('.' for base itself), file: its name],
     * or null when the report does not lie under base. base is the absolute directory the step
     * ran in (pwd(), or its physical path when the workspace is reached through a symlink:
     * pipeline-py resolves symlinks in the path it reports).
     */
    @NonCPS
    static Map location(String reportHtml, String base) {
        if (!reportHtml || !base) {
            return null
        }
        String root = base.endsWith('/') ? base : base + '/'
        if (!reportHtml.startsWith(root) || reportHtml.length() == root.length()) {
            return null
        }
        String artifact = reportHtml.substring(root.length())
        int slash = artifact.lastIndexOf('/')
        return [artifact: artifact,
                dir     : slash < 0 ? '.' : artifact.substring(0, slash),
                file    : slash < 0 ? artifact : artifact.substring(slash + 1)]
    }

    /** The link to an archived artifact: BUILD_URL + artifact/ + its path; null without a BUILD_URL. */
    @NonCPS
    static String artifactUrl(String buildUrl, String artifact) {
        if (!buildUrl || !artifact) {
            return null
        }
        return "${buildUrl.endsWith('/') ? buildUrl : buildUrl + '/'}artifact/${artifact}".toString()
    }

    /** " · report: <url>" for a build description when the report was archived but not published; '' otherwise. */
    @NonCPS
    static String descriptionLink(Map result) {
        if (!result?.report_url || result.report_published) {
            return ''
        }
        return " \u00b7 report: ${result.report_url}".toString()
    }

    /** The name of the report's link on the build page: "pipeline-py deploy (prod)". */
    @NonCPS
    static String reportName(String command, String env) {
        return "pipeline-py ${command}${env ? ' (' + env + ')' : ''}".toString()
    }

    /** A `publishHtml` value other than true, false, 'auto' (or null, meaning 'auto'). */
    @NonCPS
    static String publishProblem(String step, Object value) {
        if (value == null || value in PUBLISH_CHOICES) {
            return null
        }
        return "${step}: publishHtml must be true, false or 'auto', not '${value}'".toString()
    }

}
