// Deploys an image (or a registered task definition) to the environment's ECS service with one of
// pipeline-py's strategies, waits and verifies, and rolls back by itself on failure. Archives the
// deploy result (with the canary analysis) and sets the build description.
import groovy.transform.Field

@Field static final List STRATEGIES = ['rolling', 'blue-green', 'canary', 'linear']

// Strategy settings: parameter -> [strategy it belongs to, setting -> config path].
@Field static final Map SETTINGS = [
    rolling  : [strategy: 'rolling', paths: [bakeSeconds: 'bake_seconds']],
    canary   : [strategy: 'canary', paths: [steps: 'canary.steps', bakeSeconds: 'canary.bake_seconds',
                                            analysis: 'canary.analysis']],
    linear   : [strategy: 'linear', paths: [stepPercent: 'canary.linear_step', bakeSeconds: 'canary.bake_seconds',
                                            analysis: 'canary.analysis']],
    blueGreen: [strategy: 'blue-green', paths: [testUrl: 'blue_green.test_url',
                                                testListenerArn: 'blue_green.test_listener_arn',
                                                scaleDownDelay: 'blue_green.scale_down_delay',
                                                verifyRetries: 'blue_green.verify_retries']],
]

Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        strategy: null,        // rolling | blue-green | canary | linear (default: the environment's)
        image: null,           // image reference to deploy, normally pushImage's result.image
        taskDefinition: null,  // or a registered task definition ARN
        vars: [:],             // task definition template variables
        timeout: null,         // seconds or '15m': give up (and roll back) after this
        pollInterval: null,    // seconds between checks
        rollbackTimeout: null, // seconds or '10m' for the rollback's own watch
        desiredCount: null,    // task count for the new revision
        forceNewDeployment: false, // deploy even when the revision is unchanged
        pauseAt: null,         // canary/linear: stop at this traffic percent (result status 'paused')
        rolling: null,         // [bakeSeconds:]
        canary: null,          // [steps: [10, 25, 50, 100], bakeSeconds: 300, analysis: [maxErrorRate: 0.01, ...]]
        linear: null,          // [stepPercent: 20, bakeSeconds: 120, analysis: [...]]
        blueGreen: null,       // [testUrl:, testListenerArn:, scaleDownDelay:, verifyRetries:]
        report: null,          // a file name, true (default: deploy-<env>.json) or false
        description: true,     // set the build description to the outcome
    ]
    Map opts = pipelinePy.configure('ecsDeploy', args, defaults, ['env'])
    String problem = strategyProblem(opts)
    if (problem) {
        error(problem)
    }
    Map set = (opts.set ?: [:]) + strategySettings(opts)
    Map result = pipelinePy.run('deploy', opts + [set: set], [
        strategy         : opts.strategy,
        image            : opts.image,
        'task-definition': opts.taskDefinition,
        var              : opts.vars ?: null,
        timeout          : opts.timeout,
        'poll-interval'  : opts.pollInterval,
        'rollback-timeout': opts.rollbackTimeout,
        'desired-count'  : opts.desiredCount,
        'force-new-deployment': opts.forceNewDeployment ? true : null,
        'pause-at'       : opts.pauseAt,
    ], [report: pipelinePy.reportName(opts.report, "deploy-${opts.env}.json", true), failOnError: false])
    finish('deploy', opts, result)
    return result
}

/** Continues a deploy paused at a gate (pauseAt) to 100%. */
Map promote(Map args = [:]) {
    return gateAction('promote', args)
}

/** Abandons a paused deploy and moves all traffic back to the stable revision. */
Map abort(Map args = [:]) {
    return gateAction('abort', args)
}

Map gateAction(String action, Map args) {
    Map defaults = pipelinePy.commonDefaults() + [timeout: null, pollInterval: null, rollbackTimeout: null,
                                                  report: null, description: true]
    Map opts = pipelinePy.configure("ecsDeploy.${action}", args, defaults, ['env'])
    Map result = pipelinePy.run("deploy ${action}", opts,
        [timeout: opts.timeout, 'poll-interval': opts.pollInterval, 'rollback-timeout': opts.rollbackTimeout],
        [report: pipelinePy.reportName(opts.report, "deploy-${action}-${opts.env}.json", true), failOnError: false])
    finish("deploy ${action}", opts, result)
    return result
}

void finish(String command, Map opts, Map result) {
    if (opts.description) {
        currentBuild.description = describe(opts, result)
    }
    if (result.analysis) {
        echo("ecsDeploy: canary analysis: ${analysisLine(result.analysis)}")
    }
    if (result.exit_code) {
        pipelinePy.fail(command, result)
    }
    echo("ecsDeploy (${opts.env}): ${result.status}")
}

@NonCPS
static String strategyProblem(Map opts) {
    if (opts.strategy != null && !(opts.strategy in STRATEGIES)) {
        return "ecsDeploy: unknown strategy '${opts.strategy}' (known: ${STRATEGIES.join(', ')})".toString()
    }
    for (Map.Entry e : SETTINGS.entrySet()) {
        def given = opts[e.key]
        if (given == null) {
            continue
        }
        if (!(given instanceof Map)) {
            return "ecsDeploy: ${e.key} must be a map of settings, got ${given.getClass().getSimpleName()}".toString()
        }
        if (opts.strategy != null && opts.strategy != e.value.strategy) {
            return "ecsDeploy: ${e.key} settings apply to strategy '${e.value.strategy}', not '${opts.strategy}'".toString()
        }
        List unknown = given.keySet().findAll { !e.value.paths.containsKey(it) }.collect { it.toString() }
        if (unknown) {
            return ("ecsDeploy: unknown ${e.key} setting '${unknown[0]}' " +
                "(known: ${e.value.paths.keySet().join(', ')})").toString()
        }
        if (given.steps != null && !(given.steps instanceof List && given.steps.every { it instanceof Number })) {
            return "ecsDeploy: ${e.key}.steps must be a list of traffic percentages, got '${given.steps}'".toString()
        }
    }
    return null
}

/** The strategy settings as config overrides (analysis keys may be camelCase). */
@NonCPS
static Map strategySettings(Map opts) {
    Map out = [:]
    SETTINGS.each { String param, Map spec ->
        (opts[param] ?: [:]).each { k, v ->
            out[spec.paths[k]] = v instanceof Map ? snakeKeys((Map) v) : v
        }
    }
    return out
}

@NonCPS
static Map snakeKeys(Map m) {
    Map out = [:]
    m.each { k, v ->
        String key = k.toString().replaceAll(/([a-z0-9])([A-Z])/, '$1_$2').toLowerCase()
        out[key] = v instanceof Map ? snakeKeys((Map) v) : v
    }
    return out
}

/** One line for the build page: "prod: task-api@sha256:0123456789ab · canary · succeeded". */
@NonCPS
static String describe(Map opts, Map result) {
    String what = shortImage((opts.image ?: result.task_definition_arn ?: 'current revision').toString())
    String strategy = (result.strategy ?: opts.strategy ?: 'configured strategy').toString()
    String outcome = (result.status ?: 'unknown').toString()
    if (result.exit_code == 3) {
        outcome = 'FAILED, MANUAL ACTION REQUIRED'
    } else if (result.exit_code == 2) {
        outcome = 'configuration error'
    }
    return "${opts.env}: ${what} \u00b7 ${strategy} \u00b7 ${outcome}".toString()
}

@NonCPS
static String shortImage(String ref) {
    String name = ref.contains('/') ? ref.substring(ref.lastIndexOf('/') + 1) : ref
    int at = name.indexOf('@sha256:')
    return at >= 0 && name.length() > at + 20 ? name.substring(0, at + 20) : name
}

@NonCPS
static String analysisLine(Object analysis) {
    if (!(analysis instanceof List)) {
        return analysis.toString()
    }
    return analysis.collect { Object step ->
        step instanceof Map ? "${step.weight ?: step.step ?: '?'}%: ${step.verdict ?: step.result ?: step.status ?: '?'}" : step.toString()
    }.join(', ')
}
