// The one step that installs and runs pipeline-py on the agent. Every other step builds a
// parameter Map and calls this one.
//
// Parameters travel as a JSON file written with writeFile (built by JsonOutput from a Map), the
// shell lines are constants, the command words come from a fixed allow-list, and credentials are
// bound by ID to environment variables of the sh step only. No value a user passes ever becomes
// part of a shell line, and no secret ever enters a Groovy string, the params file or the log.
//
// The helpers that need no step (argument checks, the params file, messages) are static @NonCPS
// methods of src/io/pipelinepy/; this file and they only make calls that script-security's
// sandbox allows (tests/groovy/sandbox-allowlist.txt), so a folder-level library works.
import groovy.json.JsonOutput
import groovy.transform.Field
import io.pipelinepy.Arguments
import io.pipelinepy.Credentials
import io.pipelinepy.HtmlReports
import io.pipelinepy.Outcomes
import io.pipelinepy.Params

// The commands of the CLI contract (docs/cli.md) a pipeline may run. The words reach the shell
// through $PP_COMMAND, unquoted on purpose so that 'terraform plan' becomes two words: that is
// safe only because every value here is fixed text made of [a-z-] and spaces.
@Field static final List COMMANDS = [
    'config', 'build', 'push', 'scan', 'render',
    'deploy', 'deploy promote', 'deploy abort', 'rollback', 'status', 'run-task', 'unlock',
    'terraform init', 'terraform plan', 'terraform apply', 'terraform output', 'terraform unlock',
    'diagnose', 'logs', 'cost', 'db snapshot', 'db snapshots', 'db check',
    'jenkins sync', 'jenkins validate', 'jenkins build', 'jenkins preflight',
]

// Runs pipeline-py so that an abort or a stage timeout cannot kill it mid-deploy.
//
// Jenkins stops an `sh` step by sending SIGTERM to every process carrying the step's
// JENKINS_SERVER_COOKIE (and, when the node block ends, JENKINS_NODE_COOKIE), then SIGKILL after
// core's SoftKillWaitSeconds (5 s): far too short for a canary to move its traffic back. So
// pipeline-py runs in a process started without those variables, which the process-tree killer
// does not touch; this script forwards the stop to it as one SIGTERM, which pipeline-py answers by
// rolling back within its own rollback_timeout and writing its JSON result. The runner records the
// exit code in $PP_EXIT, which WAIT_SCRIPT reads after the interruption. A stale result or exit
// file is removed first, so a run that dies early can never be mistaken for an earlier one.
@Field static final String RUN_SCRIPT = '''rm -f "$PP_RESULT" "$PP_EXIT"
mkdir -p "$(dirname "$PP_RESULT")" "$(dirname "$PP_EXIT")"
(
  unset JENKINS_SERVER_COOKIE JENKINS_NODE_COOKIE
  exec sh -xc '"$PIPELINE_PY" $PP_COMMAND --params-file "$PP_PARAMS" --json > "$PP_RESULT" &
child=$!
trap "kill -TERM $child 2>/dev/null || :" TERM HUP
rc=0
wait $child || rc=$?
while kill -0 $child 2>/dev/null; do rc=0; wait $child || rc=$?; done
echo $rc > "$PP_EXIT.tmp" && mv "$PP_EXIT.tmp" "$PP_EXIT"'
) &
runner=$!
trap 'kill -TERM "$runner" 2>/dev/null || :' TERM INT HUP
rc=0
wait "$runner" || rc=$?
while kill -0 "$runner" 2>/dev/null; do wait "$runner" || :; done
if [ -f "$PP_EXIT" ]; then exit "$(cat "$PP_EXIT")"; fi
exit "$rc"'''

// After an abort or a timeout: waits (at most $PP_GRACE seconds) for the pipeline-py that
// RUN_SCRIPT started to finish restoring a safe state; exits with its code, or 124 when it is
// still running.
@Field static final String WAIT_SCRIPT = '''i=0
while [ ! -f "$PP_EXIT" ] && [ "$i" -lt "$PP_GRACE" ]; do sleep 1; i=$((i + 1)); done
if [ -f "$PP_EXIT" ]; then exit "$(cat "$PP_EXIT")"; fi
echo "pipeline-py has not finished after ${PP_GRACE}s; it goes on running" >&2
exit 124'''

@Field static final String INSTALL_SCRIPT = 'bash "$PP_INSTALL"'

// The current directory with symlinks resolved, as pipeline-py reports the HTML report's path.
@Field static final String PHYSICAL_PWD_SCRIPT = 'pwd -P'

@Field static final String WORK_DIR = '.pipeline-py/jenkins'
@Field static final String REPORT_DIR = 'pipeline-py-reports'

// How long an interrupted command may take to restore a safe state, when the step is not told:
// pipeline-py's default rollback_timeout (600 s) plus a margin, and for other commands a minute.
@Field static final long DEFAULT_DEPLOY_GRACE_SECONDS = 660
@Field static final long DEFAULT_GRACE_SECONDS = 60
@Field static final long GRACE_MARGIN_SECONDS = 60

// The parameters every pipeline-py step accepts and hands through unchanged.
@Field static final Map COMMON = [
    env: null,                  // pipeline.yaml environment (--env)
    config: null,               // config file (--config), relative to the current directory
    dryRun: false,              // --dry-run
    set: [:],                   // config overrides, e.g. [canary: [bake_seconds: 60]] -> --set path=<JSON>
    awsCredentialsId: null,     // credential ID bound to AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
    awsCredentialsType: 'aws',  // 'aws' (AWS Credentials plugin) or 'usernamePassword'
    pipelinePySource: null,     // install source; default $PIPELINE_PY_SOURCE, else 'pypi'
]

// pipelinePy's own parameters besides COMMON.
@Field static final Map OWN = [
    command: null,               // one of COMMANDS (required)
    params: [:],                 // the command's options, keyed by option name
    jenkinsCredentialsId: null,  // username/API token bound to JENKINS_USER/JENKINS_API_TOKEN
    report: null,                // archive the JSON result as pipeline-py-reports/<report>
    failOnError: true,           // false: return the failed result (with exit_code) instead of error
    abortGraceSeconds: null,     // after an abort: how long to wait for pipeline-py to restore a safe state
    description: null,           // after an abort: build description prefix (String); false: leave it
    publishHtml: null,           // the HTML report in the result (report_html): true, false or 'auto' (null: 'auto')
]

Map call(Map args = [:]) {
    Map opts = configure('pipelinePy', args, COMMON + OWN, ['command'])
    String problem = Arguments.commandProblem(opts, COMMANDS) ?:
        HtmlReports.publishProblem('pipelinePy', opts.publishHtml)
    if (problem) {
        error(problem)
    }
    String bin = install((String) opts.pipelinePySource)

    Map files = runFiles((String) opts.command, (String) opts.report)
    writeFile(file: files.params, text: JsonOutput.toJson(Params.forCommand(opts)), encoding: 'UTF-8')

    List runEnv = [
        "PIPELINE_PY=${bin}",
        "PP_COMMAND=${opts.command}",
        "PP_PARAMS=${files.params}",
        "PP_RESULT=${files.result}",
        "PP_EXIT=${files.exit}",
    ]
    int code
    try {
        code = withBoundCredentials(opts) {
            withEnv(runEnv) {
                sh(script: RUN_SCRIPT, returnStatus: true, label: "pipeline-py ${opts.command}")
            }
        }
    } catch (InterruptedException interruption) {
        // an abort or a timeout (FlowInterruptedException): say what state it left, then let it end the build
        interrupted(opts, files)
        throw interruption
    }

    Map result = readResult(files.result)
    if (result == null) {
        // Without a result we cannot tell what happened (even after exit 0): a human has to look.
        result = [status: 'error', error: 'internal',
                  message: "pipeline-py exited with ${code} without a JSON result (see the log above)".toString()]
        code = code == 0 ? 3 : code
    } else if (opts.report) {
        archiveArtifacts(artifacts: files.result, allowEmptyArchive: true, fingerprint: false)
    }
    if (result.report_html) {
        publishReport(opts, result)
    }
    if (code != 0) {
        result.exit_code = code
        if (opts.failOnError) {
            fail((String) opts.command, result)
        }
    }
    return result
}

/** A copy of COMMON for a step to extend (putAll: the LinkedHashMap copy constructor is not whitelisted). */
Map commonDefaults() {
    Map copy = [:]
    copy.putAll(COMMON)
    return copy
}

/** Runs a command for a step: the step's common parameters pass through; its own become params. */
Map run(String command, Map opts, Map params, Map extra = [:]) {
    Map args = [command: command, params: params]
    for (Object key : COMMON.keySet()) {
        args[key] = opts[key]
    }
    return call(args + extra)
}

/**
 * The files of one run. The number is unique within the build: it is kept in the build's
 * environment because Jenkins caches a vars instance per calling script (ecsDeploy, terraformPlan
 * and the Jenkinsfile each get their own pipelinePy), so a field would restart at 1 in each.
 * CPS runs one build's Groovy on one thread, so parallel branches cannot race on it.
 */
Map runFiles(String command, String report) {
    int n = ((env.PIPELINE_PY_RUNS ?: '0') as int) + 1
    env.PIPELINE_PY_RUNS = n.toString()
    String base = "${WORK_DIR}/${n}-${command.replace(' ', '-')}"
    return [
        params: "${base}.params.json".toString(),
        result: report ? "${REPORT_DIR}/${report}".toString() : "${base}.result.json".toString(),
        exit  : "${base}.exit".toString(),
    ]
}

/**
 * An abort or a stage timeout interrupted the run. RUN_SCRIPT has passed it on to pipeline-py as
 * SIGTERM; wait (bounded) for pipeline-py to restore a safe state, then put what state it left in
 * the log and, for commands that change something, in the build description.
 */
void interrupted(Map opts, Map files) {
    long grace = graceSeconds(opts)
    Integer code = null
    try {
        code = withEnv(["PP_EXIT=${files.exit}", "PP_GRACE=${grace}"]) {
            sh(script: WAIT_SCRIPT, returnStatus: true,
                label: "pipeline-py ${opts.command}: waiting up to ${grace}s for it to restore a safe state")
        }
    } catch (InterruptedException again) {
        code = null  // aborted again: report what is known now
    }
    Map result = readResult(files.result)
    if (result != null && opts.report) {
        archiveArtifacts(artifacts: files.result, allowEmptyArchive: true, fingerprint: false)
    }
    if (result?.report_html) {
        publishReport(opts, result)
    }
    Map run = [command: opts.command, env: opts.env, resultFile: files.result]
    Map outcome = Outcomes.abortOutcome(run, code, result, grace)
    echo(outcome.message)
    String prefix = abortDescriptionPrefix(opts)
    if (prefix) {
        currentBuild.description = "${prefix} \u00b7 ${outcome.state}${HtmlReports.descriptionLink(result)}".toString()
    }
}

/**
 * pipeline-py wrote a self-contained HTML report (deploy, promote, abort: `report_html`, an
 * absolute path on the agent). Archive it relative to the current directory and, where the HTML
 * Publisher plugin is installed, publish it as a link on the build page. Whether the plugin is
 * there cannot be asked from a sandboxed library, so 'auto' calls publishHTML and takes the
 * NoSuchMethodError CPS throws for a step no plugin provides as "not installed". The result gains
 * report_artifact, report_url (the archived file) and report_published; the steps that set a
 * build description link the report there when it was not published.
 */
@SuppressWarnings('CatchError')  // NoSuchMethodError: how CPS says "No such DSL method 'publishHTML'"
void publishReport(Map opts, Map result) {
    String html = result.report_html
    Map where = HtmlReports.location(html, pwd())
    if (where == null) {
        String physical = sh(script: PHYSICAL_PWD_SCRIPT, returnStdout: true, label: 'physical path of this directory')
        where = HtmlReports.location(html, Params.lastLine(physical))
    }
    if (where == null) {
        echo("pipeline-py wrote its HTML report outside the directory this step ran in (${html}); it is not " +
            'archived: give reportDir a directory inside the workspace')
        return
    }
    archiveArtifacts(artifacts: where.artifact, allowEmptyArchive: true, fingerprint: false)
    result.report_artifact = where.artifact
    result.report_url = HtmlReports.artifactUrl(env.BUILD_URL, where.artifact)
    result.report_published = false
    String name = HtmlReports.reportName((String) opts.command, (String) opts.env)
    if (opts.publishHtml != false) {
        try {
            publishHTML(target: [reportName: name, reportDir: where.dir, reportFiles: where.file, includes: where.file,
                                 keepAll: true, alwaysLinkToLastBuild: false, allowMissing: true])
            result.report_published = true
        } catch (NoSuchMethodError missing) {
            String why = 'the HTML Publisher plugin (htmlpublisher) is not installed, so the report is linked ' +
                'from the build description instead'
            if (opts.publishHtml == true) {
                unstable("pipelinePy: publishHtml is true but ${why}")
            } else {
                echo("pipeline-py HTML report: ${why}")
            }
        }
    }
    String published = result.report_published ? ", published as '${name}'" : ''
    String link = result.report_url ? " (${result.report_url})" : ''
    echo("pipeline-py HTML report ${where.artifact}: archived${published}${link}")
}

/** Seconds to wait after an abort: abortGraceSeconds, else the rollback bound the command was given. */
@NonCPS
static long graceSeconds(Map opts) {
    Long given = Params.seconds(opts.abortGraceSeconds)
    if (given != null) {
        return given
    }
    if (opts.command in Outcomes.DEPLOY_COMMANDS) {
        Map params = (Map) opts.params
        Object bound = params['rollback-timeout'] ?: (opts.command == 'rollback' ? params.timeout : null)
        Long rollback = Params.seconds(bound)
        return rollback != null ? rollback + GRACE_MARGIN_SECONDS : DEFAULT_DEPLOY_GRACE_SECONDS
    }
    return DEFAULT_GRACE_SECONDS
}

/** The description after an abort: the caller's prefix, or "<env>: <command>" for commands that change something. */
@NonCPS
static String abortDescriptionPrefix(Map opts) {
    if (opts.description instanceof CharSequence) {
        return opts.description.toString()
    }
    if (opts.description == false || !(opts.command in Outcomes.CHANGING_COMMANDS)) {
        return null
    }
    return "${opts.env ? opts.env + ': ' : ''}${opts.command}".toString()
}

/**
 * Turns a failed result into the build's outcome: 1 failed (for deploys: rolled back safely),
 * 2 configuration error, 3 manual action required; anything else is pipeline-py crashing.
 */
void fail(String command, Map result) {
    int code = (result.exit_code ?: 1) as int
    String msg = Outcomes.failureMessage(command, code, result)
    if (code != 2) {
        currentBuild.result = 'FAILURE'
    }
    error(msg)
}

/** Installs (or finds in the agent's cache) the pipeline-py of this library's version; returns its path. */
String install(String source = null) {
    String version = libraryVersion()
    String script = "${WORK_DIR}/install.sh"
    writeFile(file: script, text: libraryResource('pipeline-py/install.sh'), encoding: 'UTF-8')
    List installEnv = ["PP_INSTALL=${script}", "PIPELINE_PY_VERSION=${version}"]
    if (source) {
        installEnv << "PIPELINE_PY_SOURCE=${source}"
    }
    String out = withEnv(installEnv) {
        sh(script: INSTALL_SCRIPT, returnStdout: true, label: "install pipeline-py ${version}")
    }
    String bin = Params.lastLine(out)
    if (!bin) {
        error('pipeline-py install printed no executable path (see the log above)')
    }
    return bin
}

String libraryVersion() {
    return libraryResource('pipeline-py/VERSION').trim()
}

/**
 * Merges a step's Map argument over its defaults after checking it: unknown keys, missing
 * required values and values of the wrong type fail the build before anything runs on the agent.
 */
Map configure(String step, Map args, Map defaults, List required = []) {
    String problem = Arguments.problem(step, args, defaults, required)
    if (problem) {
        error(problem)
    }
    return Arguments.merged(defaults, args)
}

/** A step's `report` parameter: null means the step's default, true the default name, false none. */
@NonCPS
static String reportName(Object report, String defaultName, boolean onByDefault) {
    return Arguments.reportName(report, defaultName, onByDefault)
}

/** Runs body with the step's credential IDs bound to environment variables; a missing ID is a clear error. */
Object withBoundCredentials(Map opts, Closure body) {
    List bindings = []
    if (opts.awsCredentialsId) {
        if (opts.awsCredentialsType == 'usernamePassword') {
            bindings << usernamePassword(credentialsId: opts.awsCredentialsId,
                usernameVariable: 'AWS_ACCESS_KEY_ID', passwordVariable: 'AWS_SECRET_ACCESS_KEY')
        } else {
            bindings << [$class: 'AmazonWebServicesCredentialsBinding', credentialsId: opts.awsCredentialsId,
                accessKeyVariable: 'AWS_ACCESS_KEY_ID', secretKeyVariable: 'AWS_SECRET_ACCESS_KEY']
        }
    }
    if (opts.jenkinsCredentialsId) {
        bindings << usernamePassword(credentialsId: opts.jenkinsCredentialsId,
            usernameVariable: 'JENKINS_USER', passwordVariable: 'JENKINS_API_TOKEN')
    }
    if (!bindings) {
        return body()
    }
    try {
        return withCredentials(bindings) {
            body()
        }
    } catch (IOException e) {
        // CredentialNotFoundException (an AbortException): a missing ID or a credential of the wrong type
        String msg = Credentials.problem(opts, e.getClass().getName(), e.message)
        if (msg) {
            error(msg)
        }
        throw e
    }
}

/** The --json result, or null when pipeline-py died before printing one. */
@SuppressWarnings('CatchException')  // readJSON's parse errors have no common type but Exception
Map readResult(String file) {
    if (!fileExists(file)) {
        return null
    }
    try {
        Object parsed = readJSON(file: file, returnPojo: true)
        if (parsed instanceof Map) {
            return (Map) parsed
        }
    } catch (Exception e) {
        echo("pipeline-py result ${file} is not valid JSON: ${e.message}")
    }
    return null
}
