// The one step that installs and runs pipeline-py on the agent. Every other step builds a
// parameter Map and calls this one.
//
// Parameters travel as a JSON file written with writeFile (built by JsonOutput from a Map), the
// shell line is a constant, the command words come from a fixed allow-list, and credentials are
// bound by ID to environment variables of the sh step only. No value a user passes ever becomes
// part of a shell line, and no secret ever enters a Groovy string, the params file or the log.
import groovy.json.JsonOutput
import groovy.transform.Field

// The commands of the CLI contract (docs/cli.md) a pipeline may run. The words reach the shell
// through $PP_COMMAND, unquoted on purpose so that 'terraform plan' becomes two words: that is
// safe only because every value here is fixed text made of [a-z-] and spaces.
@Field static final List COMMANDS = [
    'config', 'build', 'push', 'render',
    'deploy', 'deploy promote', 'deploy abort', 'rollback', 'status', 'run-task',
    'terraform init', 'terraform plan', 'terraform apply', 'terraform output',
    'jenkins sync', 'jenkins validate', 'jenkins build', 'jenkins preflight',
]

// Commands whose exit 1 means "the deploy failed and the service was rolled back".
@Field static final List DEPLOY_COMMANDS = ['deploy', 'deploy promote', 'deploy abort', 'rollback']

@Field static final String RUN_SCRIPT =
    'mkdir -p "$(dirname "$PP_RESULT")" && "$PIPELINE_PY" $PP_COMMAND --params-file "$PP_PARAMS" --json > "$PP_RESULT"'

@Field static final String INSTALL_SCRIPT = 'bash "$PP_INSTALL"'

@Field static final String WORK_DIR = '.pipeline-py/jenkins'
@Field static final String REPORT_DIR = 'pipeline-py-reports'

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
]

@Field static final Map CREDENTIAL_PARAMETERS = [
    awsCredentialsId: 'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
    jenkinsCredentialsId: 'JENKINS_USER/JENKINS_API_TOKEN',
]

// Per-build counter that keeps the files of every call apart (CPS runs one build's Groovy on
// one thread, so parallel branches cannot race on it).
@Field int invocations = 0

Map call(Map args = [:]) {
    Map opts = configure('pipelinePy', args, COMMON + OWN, ['command'])
    String problem = commandProblem(opts)
    if (problem) {
        error(problem)
    }
    String bin = install(opts.pipelinePySource)

    invocations += 1
    String base = "${WORK_DIR}/${invocations}-${opts.command.replace(' ', '-')}"
    String paramsFile = "${base}.params.json"
    String resultFile = opts.report ? "${REPORT_DIR}/${opts.report}" : "${base}.result.json"
    writeFile(file: paramsFile, text: JsonOutput.toJson(paramsFor(opts)), encoding: 'UTF-8')

    List runEnv = [
        "PIPELINE_PY=${bin}",
        "PP_COMMAND=${opts.command}",
        "PP_PARAMS=${paramsFile}",
        "PP_RESULT=${resultFile}",
    ]
    int code = withBoundCredentials(opts) {
        withEnv(runEnv) {
            sh(script: RUN_SCRIPT, returnStatus: true, label: "pipeline-py ${opts.command}")
        }
    }

    Map result = readResult(resultFile)
    if (result == null) {
        // Without a result we cannot tell what happened (even after exit 0): a human has to look.
        result = [status: 'error', error: 'internal',
                  message: "pipeline-py exited with ${code} without a JSON result (see the log above)".toString()]
        code = code == 0 ? 3 : code
    } else if (opts.report) {
        archiveArtifacts(artifacts: resultFile, allowEmptyArchive: true, fingerprint: false)
    }
    if (code != 0) {
        result.exit_code = code
        if (opts.failOnError) {
            fail(opts.command, result)
        }
    }
    return result
}

/** A copy of COMMON for a step to extend with its own defaults. */
Map commonDefaults() {
    return new LinkedHashMap(COMMON)
}

/** Runs a command for a step: the step's common parameters pass through; its own become params. */
Map run(String command, Map opts, Map params, Map extra = [:]) {
    Map args = [command: command, params: params]
    for (String key : COMMON.keySet()) {
        args[key] = opts[key]
    }
    return call(args + extra)
}

/**
 * Turns a failed result into the build's outcome: 1 failed (for deploys: rolled back safely),
 * 2 configuration error, 3 manual action required; anything else is pipeline-py crashing.
 */
void fail(String command, Map result) {
    int code = (result.exit_code ?: 1) as int
    String msg = failureMessage(command, code, result)
    if (code != 2) {
        currentBuild.result = 'FAILURE'
    }
    error(msg)
}

@NonCPS
static String failureMessage(String command, int code, Map result) {
    String detail = (result.message ?: result.reason ?: result.status ?: 'no message').toString()
    switch (code) {
        case 1:
            if (command in DEPLOY_COMMANDS || result.status == 'rolled_back') {
                return "pipeline-py ${command} failed and was rolled back safely: ${detail}".toString()
            }
            return "pipeline-py ${command} failed (nothing was left half-done): ${detail}".toString()
        case 2:
            return "pipeline-py configuration error: ${detail}".toString()
        case 3:
            return ("MANUAL ACTION REQUIRED: pipeline-py ${command} failed and could not restore a safe " +
                "state: ${detail}").toString()
        default:
            return "pipeline-py ${command} exited with ${code}: ${detail}".toString()
    }
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
    String bin = lastLine(out)
    if (!bin) {
        error("pipeline-py install printed no executable path (see the log above)")
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
    String problem = argumentProblem(step, args, defaults, required)
    if (problem) {
        error(problem)
    }
    return defaults + (args ?: [:])
}

@NonCPS
static String argumentProblem(String step, Map args, Map defaults, List required) {
    Map given = args ?: [:]
    List unknown = given.keySet().findAll { !defaults.containsKey(it) }.collect { it.toString() }.sort()
    if (unknown) {
        String known = defaults.keySet().collect { it.toString() }.sort().join(', ')
        return "${step}: unknown parameter${unknown.size() > 1 ? 's' : ''} ${unknown.collect { "'${it}'" }.join(', ')} (known: ${known})".toString()
    }
    for (String key : required) {
        def value = given[key]
        if (value == null || (value instanceof CharSequence && value.toString().trim().isEmpty())) {
            return "${step}: missing required parameter '${key}'".toString()
        }
    }
    for (Map.Entry e : given.entrySet()) {
        String wrong = typeProblem(defaults[e.key], e.value)
        if (wrong) {
            return "${step}: parameter '${e.key}' ${wrong}".toString()
        }
    }
    return null
}

/** A default of a given type fixes the type of the value; a null default accepts anything. */
@NonCPS
static String typeProblem(Object defaultValue, Object value) {
    if (defaultValue == null || value == null) {
        return null
    }
    List checks = [
        [Boolean, 'must be true or false'],
        [Number, 'must be a number'],
        [CharSequence, 'must be a string'],
        [List, 'must be a list'],
        [Map, 'must be a map'],
        [Closure, 'must be a closure'],
    ]
    for (List check : checks) {
        Class type = check[0]
        if (type.isInstance(defaultValue) && !type.isInstance(value)) {
            return "${check[1]}, got ${value.getClass().getSimpleName()} '${value}'".toString()
        }
    }
    return null
}

/** A step's `report` parameter: null means the step's default, true the default name, false none. */
@NonCPS
static String reportName(Object report, String defaultName, boolean onByDefault) {
    if (report == null) {
        return onByDefault ? defaultName : null
    }
    if (report instanceof Boolean) {
        return report ? defaultName : null
    }
    return report.toString()
}

@NonCPS
static String commandProblem(Map opts) {
    if (!(opts.command in COMMANDS)) {
        return "pipelinePy: unknown command '${opts.command}' (known: ${COMMANDS.join(', ')})".toString()
    }
    if (!(opts.awsCredentialsType in ['aws', 'usernamePassword'])) {
        return "pipelinePy: awsCredentialsType must be 'aws' or 'usernamePassword', not '${opts.awsCredentialsType}'".toString()
    }
    if (opts.report && !(opts.report.toString() ==~ /[A-Za-z0-9][A-Za-z0-9._-]*/)) {
        return "pipelinePy: report '${opts.report}' must be a plain file name".toString()
    }
    for (Object key : opts.params.keySet()) {
        if (!(key.toString() ==~ /[a-z][a-z0-9_-]*/)) {
            return "pipelinePy: params key '${key}' is not an option name".toString()
        }
    }
    return null
}

/** The params file: the command's options plus the global ones, keyed by option name. */
@NonCPS
static Map paramsFor(Map opts) {
    Map out = [:]
    if (opts.env) {
        out.env = opts.env.toString()
    }
    if (opts.config) {
        out.config = opts.config.toString()
    }
    if (opts.dryRun) {
        out.dry_run = true
    }
    List sets = setEntries(opts.set)
    if (sets) {
        out.set = sets
    }
    opts.params.each { k, v ->
        if (v != null) {
            out[k.toString()] = plain(v)
        }
    }
    return out
}

/** [a: [b: 1]] -> ['a.b=1']; values are JSON, which pipeline-py reads as YAML, so types survive. */
@NonCPS
static List setEntries(Map set, String prefix = '') {
    List out = []
    (set ?: [:]).each { k, v ->
        String path = prefix ? "${prefix}.${k}" : k.toString()
        if (v instanceof Map) {
            out.addAll(setEntries((Map) v, path))
        } else if (v != null) {
            out << "${path}=${json(plain(v))}".toString()
        }
    }
    return out
}

/**
 * JSON text of one value. JsonOutput.toJson is called only with the types the script-security
 * sandbox allows (Map, String, Number, Boolean), so a folder-level (sandboxed) library works.
 */
@NonCPS
static String json(Object v) {
    if (v == null) {
        return 'null'
    }
    if (v instanceof List) {
        return '[' + v.collect { json(it) }.join(', ') + ']'
    }
    if (v instanceof Map) {
        return JsonOutput.toJson((Map) v)
    }
    if (v instanceof Number) {
        return JsonOutput.toJson((Number) v)
    }
    if (v instanceof Boolean) {
        return JsonOutput.toJson((Boolean) v)
    }
    return JsonOutput.toJson(v.toString())
}

/** GStrings become Strings so the JSON carries exactly the characters the user wrote. */
@NonCPS
static Object plain(Object v) {
    if (v instanceof CharSequence) {
        return v.toString()
    }
    if (v instanceof Map) {
        Map m = [:]
        v.each { k, x -> m[k.toString()] = plain(x) }
        return m
    }
    if (v instanceof List) {
        return v.collect { plain(it) }
    }
    return v
}

@NonCPS
static String camelToSnake(String key) {
    return key.replaceAll(/([a-z0-9])([A-Z])/, '$1_$2').toLowerCase()
}

@NonCPS
static String lastLine(String text) {
    List lines = (text ?: '').split('\n').collect { it.trim() }.findAll { it }
    return lines ? lines[-1] : null
}

/** Runs body with the step's credential IDs bound to environment variables; a missing ID is a clear error. */
def withBoundCredentials(Map opts, Closure body) {
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
    } catch (Exception e) {
        String msg = credentialProblem(opts, e)
        if (msg) {
            error(msg)
        }
        throw e
    }
}

/** Recognises Jenkins' CredentialNotFoundException (and wrong-type bindings) and names the parameter. */
@NonCPS
static String credentialProblem(Map opts, Exception e) {
    String text = (e.message ?: '').toString()
    boolean credentialError = e.getClass().getName().endsWith('CredentialNotFoundException') ||
        text.contains('Could not find credentials entry')
    if (!credentialError) {
        return null
    }
    for (String param : CREDENTIAL_PARAMETERS.keySet()) {
        String id = opts[param]
        if (id && text.contains("'${id}'")) {
            if (text.contains('Could not find')) {
                return "credential '${id}' not found (parameter ${param}): add it in Jenkins or fix the ID".toString()
            }
            return "credential '${id}' (parameter ${param}) cannot be bound to ${CREDENTIAL_PARAMETERS[param]}: ${text}".toString()
        }
    }
    return "credentials could not be bound: ${text}".toString()
}

/** The --json result, or null when pipeline-py died before printing one. */
Map readResult(String file) {
    if (!fileExists(file)) {
        return null
    }
    try {
        def parsed = readJSON(file: file, returnPojo: true)
        if (parsed instanceof Map) {
            return parsed
        }
    } catch (Exception e) {
        echo("pipeline-py result ${file} is not valid JSON: ${e.message}")
    }
    return null
}
